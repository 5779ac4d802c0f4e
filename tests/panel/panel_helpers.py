"""A browser-like helper for panel view tests: cookies, CSRF tokens taken from pages.

Not a conftest.py: a second module named `conftest` would shadow tests/conftest.py for
every `from conftest import …` collected after it. Test modules import these fixtures.
"""

from __future__ import annotations

import re
import uuid

import aiohttp
import pytest

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


class PanelUser:
    """One browser: its own cookie jar, signs up or logs in through the forms."""

    def __init__(self, session: aiohttp.ClientSession, base: str):
        self.session = session
        self.base = base.rstrip("/")
        self.csrf = None

    async def get(self, path: str, **kw):
        async with self.session.get(self.base + path, allow_redirects=False, **kw) as resp:
            text = await resp.text()
            found = CSRF.search(text)
            if found:
                self.csrf = found.group(1)
            return resp, text

    async def post(self, path: str, data: dict | None = None, *, csrf: bool | str = True, **kw):
        if self.csrf is None:
            await self.get("/admin/login")
        form = dict(data or {})
        if csrf is True:
            form["_csrf"] = self.csrf
        elif isinstance(csrf, str):
            form["_csrf"] = csrf
        async with self.session.post(self.base + path, data=form, allow_redirects=False,
                                     **kw) as resp:
            return resp, await resp.text()

    async def signup(self, email: str | None = None, password: str = "correct horse 1",
                     name: str = "Olena", organization: str = "Acme") -> str:
        email = email or f"owner-{uuid.uuid4().hex[:8]}@example.com"
        await self.get("/admin/signup")
        resp, text = await self.post("/admin/signup", {
            "email": email, "password": password, "name": name, "organization": organization})
        assert resp.status == 302, text
        await self.get("/admin/sites")
        return email

    async def login(self, email: str, password: str = "correct horse 1"):
        await self.get("/admin/login")
        resp, text = await self.post("/admin/login", {"email": email, "password": password})
        if resp.status == 302:
            await self.get("/admin/chats")
        return resp, text

    async def create_site(self, name: str = "Shop", domain: str = "", *,
                          starters: bool = False) -> str:
        """Create a site through the form; returns its id ("s_N"). The starter offline
        auto-reply is deleted (through the form) unless `starters`: most tests count
        messages and rules of their own."""
        resp, text = await self.post("/admin/sites", {"name": name, "domain": domain})
        assert resp.status == 302, text
        site = resp.headers["Location"].split("#site-")[1]
        if not starters:
            _, page = await self.get(f"/admin/automation?site={site}")
            for rule in re.findall(r'action="(/admin/automation/rules/ar_\d+/delete)"', page):
                resp, text = await self.post(rule)
                assert resp.status == 302, text
        return site


@pytest.fixture
async def browsers(client):
    """A factory of independent browsers on the test server."""
    sessions = []

    def make() -> PanelUser:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        return PanelUser(session, str(client.make_url("/")))

    yield make
    for session in sessions:
        await session.close()


@pytest.fixture
async def owner(browsers) -> PanelUser:
    user = browsers()
    user.email = await user.signup()
    return user
