"""Shared pieces of the privacy tests: an organization with a chat, operators, uploads,
and raw downloads (headers and bytes, whatever the content type)."""

from __future__ import annotations

import uuid

import aiohttp

from chatiq import keys
from chatiq.core.protocol import parse_id
from chatiq.core.security import hash_password
from chatiq.store import accounts, sites
from conftest import ChatHelper, request


class Org:
    """An OWNER, one site, and a visitor who said something."""

    def __init__(self, chat: ChatHelper, app):
        self.chat, self.app = chat, app

    async def setup(self, name: str = "Acme") -> "Org":
        self.token, self.user = await self.chat.register(organization=name)
        self.site = await self.chat.create_site(self.token, name=f"{name} shop")
        self.visitor = await self.chat.visitor_ws(self.site["siteKey"])
        self.first = await self.chat.say(self.visitor, f"hello from {name}")
        self.chat_id = self.first["chatId"]
        self.visitor_id = self.visitor.session["visitorId"]
        return self

    async def operator(self, site_refs: list[str], email: str | None = None) -> str:
        """A new OPERATOR of this organization on the given sites; their API token."""
        pool = self.app[keys.POOL]
        email = email or f"op-{uuid.uuid4().hex[:8]}@example.com"
        user = await accounts.create_operator(
            pool, org_id=parse_id("o", self.user["organizationId"]), email=email, name="Op",
            password_hash=await hash_password("operator pass 1", 4))
        for ref in site_refs:
            site_id = parse_id("s", ref)
            current = await sites.site_operator_map(pool, user.org_id)
            await sites.set_site_operators(pool, site_id, sorted(current.get(site_id, set())
                                                                 | {user.id}))
        status, body = await self.chat.call("POST", "/api/v1/auth/login", json={
            "email": email, "password": "operator pass 1"})
        assert status == 200, body
        return body["token"]

    async def upload(self, content: bytes, filename: str, visitor=None) -> dict:
        visitor = visitor or self.visitor
        data = aiohttp.FormData(quote_fields=False)
        data.add_field("siteKey", self.site["siteKey"])
        data.add_field("visitorToken", visitor.session["visitorToken"])
        data.add_field("file", content, filename=filename, content_type="text/plain")
        status, body = await self.chat.call("POST", "/api/v1/uploads", data=data)
        assert status == 201, body
        return body["attachment"]

    async def send_file(self, content: bytes, filename: str, visitor=None) -> dict:
        visitor = visitor or self.visitor
        attachment = await self.upload(content, filename, visitor)
        reply = await request(visitor, "visitor:message", {"clientId": uuid.uuid4().hex,
                                                           "attachmentId": attachment["id"]})
        assert reply["type"] == "ack", reply
        return reply["data"]["message"]


async def download(chat: ChatHelper, path: str, token: str | None = None,
                   session: aiohttp.ClientSession | None = None):
    """(status, headers, body bytes) of a GET."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (session or chat.session).get(chat.base + path, headers=headers,
                                             allow_redirects=False) as resp:
        return resp.status, resp.headers, await resp.read()
