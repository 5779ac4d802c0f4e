"""Shared pieces of the webhook tests: a real HTTP receiver on localhost, an independent
signature check, fast outbox settings, and an app that can be stopped and started again.

Not a conftest.py (it would shadow tests/conftest.py); test modules import the fixtures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import time

import pytest
from aiohttp import web

from chatiq import keys
from chatiq.app import create_app
from chatiq.core.security import hash_password
from chatiq.store import accounts
from chatiq.store.sites import set_site_operators
from conftest import ChatHelper


class Receiver:
    """Records every POST it gets; answers each as `script` says: a status code, a
    (status, headers) pair, or "hang" (answers 200 only after `hang_seconds`)."""

    def __init__(self):
        self.got: list[dict] = []
        self.script: list = []
        self.default: int = 200
        self.hang_seconds = 2.0
        self.url = ""
        self._arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        action = self.script.pop(0) if self.script else self.default
        self.got.append({"headers": dict(request.headers), "body": body,
                         "json": json.loads(body), "answer": action})
        self._arrived.set()
        if action == "hang":
            await asyncio.sleep(self.hang_seconds)
            action = 200
        status, headers = action if isinstance(action, tuple) else (action, {})
        return web.Response(status=status, text="receiver says " + str(status), headers=headers)

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        async def enough():
            while len(self.got) < n:
                self._arrived.clear()
                await self._arrived.wait()
        try:
            await asyncio.wait_for(enough(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"receiver got {len(self.got)} requests, not {n}: "
                                 f"{[g['json']['event'] for g in self.got]}") from None

    def accepted(self) -> list[dict]:
        """The requests it answered with 2xx (a hang ends in 200)."""
        return [g for g in self.got
                if g["answer"] == "hang" or (isinstance(g["answer"], int)
                                             and 200 <= g["answer"] < 300)]


def verify_signature(secret: str, headers: dict, body: bytes, tolerance: float = 300) -> bool:
    """The check a receiver runs (docs/webhooks.md), written here independently."""
    parts = dict(item.split("=", 1) for item in headers["X-ChatIQ-Signature"].split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
async def receiver(aiohttp_server) -> Receiver:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    server = await aiohttp_server(app)
    found.url = str(server.make_url("/hook"))
    return found


@pytest.fixture
def fast_config(config):
    """Private targets allowed (the receiver is on localhost) and quick retries."""
    return dataclasses.replace(config, webhooks_allow_private=True, rate_limits_enabled=False,
                               outbox_poll_seconds=0.05, outbox_backoff_base=0.05,
                               outbox_backoff_cap=0.2, outbox_max_attempts=5)


class Server:
    """The app under test on aiohttp's test client, stoppable and startable again on the
    same database (a restart)."""

    def __init__(self, aiohttp_client, config):
        self._make_client = aiohttp_client
        self.config = config
        self.client = None
        self.chat: ChatHelper | None = None

    async def start(self) -> ChatHelper:
        self.client = await self._make_client(create_app(self.config))
        self.chat = ChatHelper(self.client.session, str(self.client.make_url("/")))
        return self.chat

    async def stop(self) -> None:
        await self.client.close()

    @property
    def app(self) -> web.Application:
        return self.client.server.app


async def owner_with_site(chat: ChatHelper, name: str = "Acme") -> tuple[str, dict]:
    token, _ = await chat.register(organization=name)
    return token, await chat.create_site(token, name=f"{name} shop")


async def add_webhook(chat: ChatHelper, token: str, site_id: str, url: str, **fields) -> dict:
    status, body = await chat.call("POST", f"/api/v1/sites/{site_id}/webhooks", token,
                                   json={"url": url, **fields})
    assert status == 201, body
    return body["webhook"]


async def settle(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def operator_token(chat: ChatHelper, app, owner_token: str, site: dict,
                         email: str = "op@example.com") -> str:
    """An OPERATOR of the owner's organization, given `site`, and their JWT."""
    _, me = await chat.call("GET", "/api/v1/auth/me", owner_token)
    op = await accounts.create_operator(
        app[keys.POOL], org_id=int(me["user"]["organizationId"][2:]), email=email, name="Op",
        password_hash=await hash_password("operator pw", 4))
    await set_site_operators(app[keys.POOL], int(site["id"][2:]), [op.id])
    status, login = await chat.call("POST", "/api/v1/auth/login",
                                    json={"email": email, "password": "operator pw"})
    assert status == 200, login
    return login["token"]
