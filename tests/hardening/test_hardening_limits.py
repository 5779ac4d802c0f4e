"""Hardening (issue 9): every door a stranger can knock on has a limit.

For each: the limit's N attempts pass, attempt N+1 is refused with 429 and Retry-After (on
the sockets: `rate_limited` with retryAfter), a second address (127.0.0.2) is not affected,
and the limit lifts once its time has passed (the limiter's clock is moved, not waited for).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid

import aiohttp
import pytest
from PIL import Image

from chatiq import keys
from chatiq.app import create_app
from chatiq.core.ratelimit import (JOINS_PER_IP, LOGIN_FAILURES_PER_ACCOUNT_AND_IP,
                                   LOGIN_FAILURES_PER_IP, MESSAGES_PER_VISITOR, SIGNUPS_PER_IP,
                                   UPLOADS_PER_IP)
from conftest import ChatHelper, request

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
PASSWORD = "correct horse 1"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Server:
    """The app with its limiters on a clock the test moves, seen from two addresses."""

    def __init__(self, app, here: ChatHelper, there: ChatHelper):
        self.app, self.here, self.there = app, here, there
        self.clock = Clock()
        for key in (keys.JOIN_LIMITER, keys.LOGIN_LIMITS, keys.SIGNUP_LIMITER,
                    keys.UPLOAD_LIMITER, keys.MESSAGE_LIMITER):
            app[key].clock = self.clock

    def later(self, seconds: float) -> None:
        self.clock.now += seconds


@pytest.fixture
async def server(aiohttp_client, config):
    app = create_app(config)
    client = await aiohttp_client(app)
    base = str(client.make_url("/"))
    # Linux routes all of 127/8 to loopback: a second source address is a second "IP".
    other = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)),
                                  cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        yield Server(app, ChatHelper(client.session, base), ChatHelper(other, base))
    finally:
        await other.close()


def _retry_after(status: int, headers, body) -> int:
    assert status == 429, (status, body)
    assert body["error"]["code"] == "rate_limited"
    seconds = int(headers["Retry-After"])
    assert seconds >= 1
    return seconds


async def _post(chat: ChatHelper, path: str, **kw):
    async with chat.session.post(chat.base + path, allow_redirects=False, **kw) as resp:
        ctype = resp.content_type
        body = await resp.json() if ctype == "application/json" else await resp.text()
        return resp.status, resp.headers, body


# --- widget joins per IP ----------------------------------------------------------

async def _join(chat: ChatHelper, site_key: str) -> dict:
    ws = await chat.session.ws_connect(chat.base + "/ws/widget")
    await ws.send_json({"type": "visitor:join", "ref": "j", "data": {"siteKey": site_key}})
    while True:
        frame = json.loads((await ws.receive(timeout=5)).data)
        if frame.get("ref") == "j":
            await ws.close()
            return frame


async def test_widget_joins_per_ip(server):
    token, _ = await server.here.register()
    site = await server.here.create_site(token)
    for _ in range(int(JOINS_PER_IP.burst)):
        assert (await _join(server.here, site["siteKey"]))["type"] == "ack"
    refused = await _join(server.here, site["siteKey"])
    assert refused["type"] == "error" and refused["data"]["code"] == "rate_limited"
    assert refused["data"]["retryAfter"] >= 1
    assert (await _join(server.there, site["siteKey"]))["type"] == "ack"
    server.later(refused["data"]["retryAfter"])
    assert (await _join(server.here, site["siteKey"]))["type"] == "ack"


# --- messages per visitor, across sockets -------------------------------------------

async def test_messages_per_visitor_across_all_their_sockets(server, sql):
    token, _ = await server.here.register()
    site = await server.here.create_site(token)
    first = await server.here.visitor_ws(site["siteKey"])
    same = {"visitorToken": first.session["visitorToken"]}
    tabs = [first] + [await server.here.visitor_ws(site["siteKey"], **same) for _ in range(2)]
    # Each socket stays under its own limit (Config.visitor_rate: 30 at once), but together
    # they exceed the visitor's.
    allowed = int(MESSAGES_PER_VISITOR.burst)
    for n in range(allowed):
        await server.here.say(tabs[n % 3], f"m{n}")
    refused = await request(tabs[2], "visitor:message", {"clientId": "one-too-many", "text": "x"})
    assert refused["type"] == "error" and refused["data"]["code"] == "rate_limited", refused
    assert refused["data"]["retryAfter"] >= 1
    assert sql("SELECT count(*) FROM messages WHERE client_id = 'one-too-many'") == [(0,)]

    other = await server.here.visitor_ws(site["siteKey"])  # another visitor, same address
    await server.here.say(other, "hello")
    server.later(refused["data"]["retryAfter"])
    await server.here.say(tabs[2], "x", client_id="one-too-many")


# --- uploads per IP ---------------------------------------------------------------

def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


async def _upload(chat: ChatHelper, site_key: str, visitor_token: str):
    form = aiohttp.FormData()
    form.add_field("siteKey", site_key)
    form.add_field("visitorToken", visitor_token)
    form.add_field("file", _png(), filename="dot.png", content_type="image/png")
    return await _post(chat, "/api/v1/uploads", data=form)


async def test_visitor_uploads_per_ip(server, sql):
    token, _ = await server.here.register()
    site = await server.here.create_site(token)
    visitor = await server.here.visitor_ws(site["siteKey"])
    key, vt = site["siteKey"], visitor.session["visitorToken"]
    for _ in range(int(UPLOADS_PER_IP.burst)):
        status, _, body = await _upload(server.here, key, vt)
        assert status == 201, body
    status, headers, body = await _upload(server.here, key, vt)
    wait = _retry_after(status, headers, body)
    # Counted before the credentials: guessing tokens is limited the same way.
    assert _retry_after(*await _upload(server.here, key, "not-a-token")) >= 1
    assert sql("SELECT count(*) FROM attachments") == [(int(UPLOADS_PER_IP.burst),)]

    status, _, body = await _upload(server.there, key, vt)
    assert status == 201, body
    server.later(wait)
    status, _, body = await _upload(server.here, key, vt)
    assert status == 201, body


# --- logins: per account (a lockout) and per IP --------------------------------------

async def _login(chat: ChatHelper, email: str, password: str):
    return await _post(chat, "/api/v1/auth/login", json={"email": email, "password": password})


async def _panel_login(chat: ChatHelper, email: str, password: str):
    async with chat.session.get(chat.base + "/admin/login") as resp:
        csrf = CSRF.search(await resp.text()).group(1)
    return await _post(chat, "/admin/login", data={"_csrf": csrf, "email": email,
                                                   "password": password})


async def test_failed_logins_lock_the_account_at_that_address_on_both_doors(server):
    await server.here.register(email="target@example.com", password=PASSWORD)
    for _ in range(int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst)):
        status, _, body = await _login(server.here, "target@example.com", "guess-guess")
        assert status == 401, body
    # Locked at this address: even the right password, through the API or the panel.
    wait = _retry_after(*await _login(server.here, "target@example.com", PASSWORD))
    status, headers, text = await _panel_login(server.here, "target@example.com", PASSWORD)
    assert status == 429 and int(headers["Retry-After"]) >= 1 and "Too many" in text
    # Other accounts at the same address are not locked.
    await server.here.register(email="colleague@example.com", password=PASSWORD)
    assert (await _login(server.here, "colleague@example.com", PASSWORD))[0] == 200

    server.later(wait)
    status, _, body = await _login(server.here, "target@example.com", PASSWORD)
    assert status == 200, body


async def test_a_stranger_cannot_lock_the_owner_out(server):
    """Issue 16: anyone who knew an email could lock that account for everybody. Now the
    stranger's failures lock only the stranger's address; the owner, from their own
    address, still gets in with the right password, through either door."""
    await server.here.register(email="owner@example.com", password=PASSWORD)
    for _ in range(int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst) * 3):
        status, _, _ = await _login(server.there, "owner@example.com", "guess-guess")
        assert status in (401, 429)
    assert _retry_after(*await _login(server.there, "owner@example.com", PASSWORD)) >= 1
    status, _, body = await _login(server.here, "owner@example.com", PASSWORD)
    assert status == 200, body
    status, headers, _ = await _panel_login(server.here, "owner@example.com", PASSWORD)
    assert status == 302, status


async def test_failed_logins_per_ip(server):
    await server.here.register(email="owner@example.com", password=PASSWORD)
    for i in range(int(LOGIN_FAILURES_PER_IP.burst)):  # spraying: one guess per account
        status, _, body = await _login(server.here, f"guess{i}@example.com", "guess-guess")
        assert status == 401, body
    wait = _retry_after(*await _login(server.here, "owner@example.com", PASSWORD))
    assert (await _login(server.there, "owner@example.com", PASSWORD))[0] == 200
    server.later(wait)
    assert (await _login(server.here, "owner@example.com", PASSWORD))[0] == 200


async def test_successful_logins_do_not_count(server):
    await server.here.register(email="daily@example.com", password=PASSWORD)
    for _ in range(int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst) * 2):
        assert (await _login(server.here, "daily@example.com", PASSWORD))[0] == 200


async def test_concurrent_guesses_cannot_slip_past_the_limit(server):
    """A burst of guesses in flight together (each waits on bcrypt) must not all be
    tried before the first failure is counted."""
    await server.here.register(email="target@example.com", password=PASSWORD)
    results = await asyncio.gather(*(_login(server.here, "target@example.com", f"guess-{i}")
                                     for i in range(40)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(401) == int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst), statuses
    assert statuses.count(429) == 40 - int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst)


# --- sign-ups per IP, API and panel together -----------------------------------------

def _registration() -> dict:
    return {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD,
            "name": "New", "organization": "New Ltd"}


async def test_signups_per_ip_on_the_api_and_the_panel(server):
    allowed = int(SIGNUPS_PER_IP.burst)
    for n in range(allowed):
        if n % 2:
            status, _, body = await _post(server.here, "/api/v1/auth/register",
                                          json=_registration())
            assert status == 201, body
        else:  # the panel's form counts against the same limit
            async with server.here.session.get(server.here.base + "/admin/signup") as resp:
                csrf = CSRF.search(await resp.text()).group(1)
            status, _, _ = await _post(server.here, "/admin/signup",
                                       data={"_csrf": csrf, **_registration()})
            assert status == 302
            server.here.session.cookie_jar.clear()  # signed in now; sign up as someone new
    wait = _retry_after(*await _post(server.here, "/api/v1/auth/register",
                                     json=_registration()))
    async with server.here.session.get(server.here.base + "/admin/signup") as resp:
        csrf = CSRF.search(await resp.text()).group(1)
    status, headers, text = await _post(server.here, "/admin/signup",
                                        data={"_csrf": csrf, **_registration()})
    assert status == 429 and int(headers["Retry-After"]) >= 1 and "Too many" in text

    status, _, body = await _post(server.there, "/api/v1/auth/register", json=_registration())
    assert status == 201, body
    server.later(wait)
    status, _, body = await _post(server.here, "/api/v1/auth/register", json=_registration())
    assert status == 201, body


async def test_limits_off_lifts_them_all(aiohttp_client, config):
    """CHATIQ_RATE_LIMITS=off: for load tests from one address."""
    import dataclasses

    client = await aiohttp_client(create_app(dataclasses.replace(config,
                                                                 rate_limits_enabled=False)))
    chat = ChatHelper(client.session, str(client.make_url("/")))
    for _ in range(int(SIGNUPS_PER_IP.burst) + 1):
        await chat.register()
    for _ in range(int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst) + 1):
        status, _, _ = await _login(chat, "nobody@example.com", "guess-guess")
        assert status == 401
    token, _ = await chat.register()
    site = await chat.create_site(token)
    for _ in range(int(JOINS_PER_IP.burst) + 1):
        assert (await _join(chat, site["siteKey"]))["type"] == "ack"
