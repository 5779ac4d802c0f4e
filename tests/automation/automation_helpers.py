"""Fixtures for automation tests: the real app with a ManualClock the test drives."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from chatiq import keys
from chatiq.app import create_app
from chatiq.keys import CLOCK
from chatiq.automation.clock import ManualClock
from chatiq.core.security import hash_password
from chatiq.store import accounts
from chatiq.store.sites import set_site_operators
from conftest import ChatHelper

# A Friday noon in UTC; tests move on from here.
START = datetime(2026, 3, 27, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


class AutoChat(ChatHelper):
    """A ChatHelper whose `say` returns once the engine has answered the message."""

    async def say(self, ws, text: str, client_id: str | None = None) -> dict:
        message = await super().say(ws, text, client_id)
        await self.app[keys.AUTOMATION].settle()
        return message


async def start_app(aiohttp_client, config, clock: ManualClock) -> AutoChat:
    app = create_app(config)
    app[CLOCK] = clock
    client = await aiohttp_client(app)
    helper = AutoChat(client.session, str(client.make_url("/")))
    helper.app, helper.client, helper.clock = app, client, clock
    return helper


@pytest.fixture
async def auto(aiohttp_client, config, clock) -> AutoChat:
    return await start_app(aiohttp_client, config, clock)


async def owner_and_site(chat: ChatHelper, name: str = "Shop"):
    token, user = await chat.register()
    site = await chat.create_site(token, name=name)
    return token, user, site


async def add_rule(chat: ChatHelper, token: str, site: dict, **fields) -> dict:
    body = {"text": f"auto {fields.get('trigger')}", "enabled": True, **fields}
    status, reply = await chat.call("POST", f"/api/v1/sites/{site['id']}/auto-replies", token,
                                    json=body)
    assert status == 201, reply
    return reply["autoReply"]


async def set_hours(chat: ChatHelper, token: str, site: dict, **hours) -> dict:
    status, reply = await chat.call("PUT", f"/api/v1/sites/{site['id']}/hours", token,
                                    json={"enabled": True, **hours})
    assert status == 200, reply
    return reply["hours"]


async def operator_token(chat: ChatHelper, app, owner: dict, site: dict | None = None,
                         email: str = "op@example.com") -> str:
    """An OPERATOR of the owner's organization (given `site` if named) and their JWT."""
    op = await accounts.create_operator(
        app[keys.POOL], org_id=int(owner["organizationId"][2:]), email=email, name="Op",
        password_hash=await hash_password("operator pw", 4))
    if site is not None:
        await set_site_operators(app[keys.POOL], int(site["id"][2:]), [op.id])
    _, login = await chat.call("POST", "/api/v1/auth/login",
                               json={"email": email, "password": "operator pw"})
    return login["token"]


async def no_frame(ws, ftype: str, wait: float = 0.2) -> None:
    """Nothing of `ftype` arrives within `wait` seconds (other frames are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while (left := deadline - loop.time()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except asyncio.TimeoutError:
            return
        assert ftype not in msg.data, msg.data


async def bot_texts(chat: ChatHelper, sql) -> list[str]:
    """The stored bot messages, once the engine answered everything it heard."""
    await chat.app[keys.AUTOMATION].settle()
    return [r[0] for r in sql("SELECT text FROM messages WHERE author_kind = 'bot' ORDER BY id")]
