"""Logging in and out, the session cookie, invitations and the socket's cookie auth."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp_session import Session

from chatiq.panel.session import COOKIE_NAME, make_storage, session_key
from chatiq.core.ratelimit import LOGIN_FAILURES_PER_IP
from chatiq.core.security import token_hash
from conftest import recv_until
from panel_helpers import browsers, owner  # noqa: F401  (fixtures)


def _cookie(user):
    return user.session.cookie_jar.filter_cookies(user.base)[COOKIE_NAME].value


async def test_wrong_password_is_refused_with_a_clear_message(owner, browsers):
    b = browsers()
    resp, text = await b.login(owner.email, "wrong password")
    assert resp.status == 401 and "Wrong email or password" in text
    resp, _ = await b.get("/admin/chats")
    assert resp.status == 302


async def test_failed_logins_are_rate_limited_per_account(owner, browsers):
    b = browsers()
    await b.get("/admin/login")
    for _ in range(10):
        resp, _ = await b.post("/admin/login", {"email": owner.email, "password": "nope"})
        assert resp.status == 401
    resp, text = await b.post("/admin/login", {"email": owner.email,
                                               "password": "correct horse 1"})
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert "Too many failed attempts" in text


async def test_failed_logins_are_rate_limited_per_address(owner, browsers):
    b = browsers()
    await b.get("/admin/login")
    for i in range(int(LOGIN_FAILURES_PER_IP.burst)):
        resp, _ = await b.post("/admin/login", {"email": f"guess{i}@example.com", "password": "x"})
        assert resp.status == 401
    resp, _ = await b.post("/admin/login", {"email": owner.email, "password": "correct horse 1"})
    assert resp.status == 429 and resp.headers["Retry-After"]


async def test_successful_logins_are_not_counted(owner, browsers):
    for _ in range(12):
        resp, text = await browsers().login(owner.email)
        assert resp.status == 302, text


async def test_login_rotates_the_session(owner, browsers):
    b = browsers()
    await b.get("/admin/login")
    before_cookie, before_csrf = _cookie(b), b.csrf
    resp, _ = await b.login(owner.email)
    assert resp.status == 302 and resp.headers["Location"] == "/admin/chats"
    assert _cookie(b) != before_cookie
    assert b.csrf != before_csrf


async def test_login_follows_next_only_inside_the_panel(owner, browsers):
    b = browsers()
    await b.get("/admin/login")
    resp, _ = await b.post("/admin/login", {"email": owner.email, "password": "correct horse 1",
                                            "next": "https://evil.example/"})
    assert resp.headers["Location"] == "/admin/chats"
    c = browsers()
    await c.get("/admin/login")
    resp, _ = await c.post("/admin/login", {"email": owner.email, "password": "correct horse 1",
                                            "next": "/admin/sites"})
    assert resp.headers["Location"] == "/admin/sites"


async def test_logout_ends_every_copy_of_the_cookie(owner, browsers):
    stolen = _cookie(owner)
    resp, _ = await owner.post("/admin/logout")
    assert resp.status == 302
    thief = browsers()
    thief.session.cookie_jar.update_cookies({COOKIE_NAME: stolen})
    resp, _ = await thief.get("/admin/chats")
    assert resp.status == 302 and resp.headers["Location"].startswith("/admin/login")


async def test_cookie_is_httponly_lax_and_secure_only_over_https():
    storage = make_storage("k")
    for scheme, secure in (("http", ""), ("https", True)):
        request = make_mocked_request("GET", "/admin").clone(scheme=scheme)
        response = web.Response()
        session = Session(None, data=None, new=True, max_age=storage.max_age)
        session["uid"] = 1
        await storage.save_session(request, response, session)
        morsel = response.cookies[COOKIE_NAME]
        assert morsel["httponly"] is True and morsel["samesite"] == "Lax"
        assert morsel["secure"] == secure, scheme
        assert int(morsel["max-age"]) == 7 * 24 * 3600
    assert len(session_key("secret")) == 32 and session_key("a") != session_key("b")


async def test_signup_sets_a_cookie_with_the_right_flags(browsers):
    b = browsers()
    await b.get("/admin/signup")
    async with b.session.post(b.base + "/admin/signup", allow_redirects=False, data={
            "_csrf": b.csrf, "email": "flags@example.com", "password": "long enough 1",
            "name": "F", "organization": "F"}) as resp:
        header = "; ".join(resp.headers.getall("Set-Cookie")).lower()
    assert "httponly" in header and "samesite=lax" in header and "secure" not in header


async def test_invitation_link_works_once_and_keeps_only_a_hash(owner, browsers, sql):
    resp, text = await owner.post("/admin/team/invite", {"email": "Op@Example.com", "name": ""})
    assert resp.status == 201
    link = text.split('id="invite-link">')[1].split("<")[0]
    token = link.rsplit("/", 1)[1]
    assert sql("SELECT email, role, password_hash FROM users WHERE role = 'OPERATOR'") == [
        ("op@example.com", "OPERATOR", None)]
    hashes = [bytes(r[0]) for r in sql("SELECT token_hash FROM invitations")]
    assert hashes == [token_hash(token)]
    assert token.encode() not in hashes[0]

    op = browsers()
    resp, _ = await op.login("op@example.com", "")  # no password yet: cannot log in
    assert resp.status in (400, 401)
    resp, text = await op.get(f"/admin/invite/{token}")
    assert resp.status == 200 and "op@example.com" in text
    resp, text = await op.post(f"/admin/invite/{token}", {"name": "Petro", "password": "short"})
    assert resp.status == 422 and "at least 8" in text
    resp, _ = await op.post(f"/admin/invite/{token}", {"name": "Petro",
                                                       "password": "operator pass 1"})
    assert resp.status == 302
    resp, text = await op.get("/admin/chats")
    assert resp.status == 200 and "Petro" in text

    again = browsers()
    resp, text = await again.get(f"/admin/invite/{token}")
    assert resp.status == 404 and "invalid, expired or already used" in text
    resp, _ = await again.post(f"/admin/invite/{token}", {"name": "X", "password": "another pass 1"})
    assert resp.status == 404
    resp, _ = await again.login("op@example.com", "operator pass 1")
    assert resp.status == 302


async def test_expired_invitation_is_refused(owner, browsers, sql):
    resp, text = await owner.post("/admin/team/invite", {"email": "late@example.com"})
    token = text.split('id="invite-link">')[1].split("<")[0].rsplit("/", 1)[1]
    sql("UPDATE invitations SET expires_at = now() - interval '1 second'")
    b = browsers()
    resp, _ = await b.get(f"/admin/invite/{token}")
    assert resp.status == 404
    resp, _ = await b.post(f"/admin/invite/{token}", {"name": "L", "password": "long enough 1"})
    assert resp.status == 404
    assert sql("SELECT password_hash FROM users WHERE email = 'late@example.com'") == [(None,)]


async def test_invite_errors_and_roles(owner, sql):
    resp, text = await owner.post("/admin/team/invite", {"email": "nope"})
    assert resp.status == 422 and "valid email" in text
    resp, text = await owner.post("/admin/team/invite", {"email": owner.email})
    assert resp.status == 422 and "already exists" in text
    assert sql("SELECT count(*) FROM users")[0][0] == 1
    _, text = await owner.get("/admin/team")
    me = text.split('data-user-id="')[1].split('"')[0]
    resp, text = await owner.post(f"/admin/team/{me}/role", {"role": "OPERATOR"})
    assert resp.status == 422 and "at least one owner" in text
    resp, _ = await owner.post(f"/admin/team/{me}/role", {"role": "ADMIN"})
    assert resp.status == 422
    await owner.post("/admin/team/invite", {"email": "second@example.com"})
    uid = sql("SELECT id FROM users WHERE email = 'second@example.com'")[0][0]
    resp, _ = await owner.post(f"/admin/team/u_{uid}/role", {"role": "OWNER"})
    assert resp.status == 302
    assert sql("SELECT role FROM users WHERE id = %s", (uid,)) == [("OWNER",)]


async def test_operator_socket_takes_the_cookie_only_from_our_own_pages(owner, chat, sql):
    url = owner.base + "/ws/operator"
    host = owner.base.split("://", 1)[1]
    ws = await owner.session.ws_connect(url, headers={"Origin": f"http://{host}"})
    ready = await recv_until(ws, "operator:ready")
    assert ready["data"]["operator"]["email"] == owner.email
    await ws.close()

    ws = await owner.session.ws_connect(url)  # no Origin: not a browser
    assert (await recv_until(ws, "operator:ready"))["type"] == "operator:ready"
    await ws.close()

    ws = await owner.session.ws_connect(url, headers={"Origin": "https://evil.example"})
    msg = await ws.receive(timeout=5)
    while msg.type.name == "TEXT":  # the server waits for an auth frame, then gives up
        assert json.loads(msg.data)["type"] != "operator:ready"
        msg = await ws.receive(timeout=5)
    assert ws.close_code == 4001


async def test_language_is_remembered_per_user_and_per_anonymous_session(owner, browsers, sql):
    resp, _ = await owner.post("/admin/language", {"lang": "uk", "next": "/admin/sites"})
    assert resp.headers["Location"] == "/admin/sites"
    _, text = await owner.get("/admin/sites")
    assert '<html lang="uk">' in text and "Сайти" in text
    assert sql("SELECT language FROM users") == [("uk",)]
    again = browsers()
    await again.login(owner.email)
    _, text = await again.get("/admin/chats")
    assert '<html lang="uk">' in text and "Відкриті" in text

    anon = browsers()
    await anon.get("/admin/login")
    resp, _ = await anon.post("/admin/language", {"lang": "uk", "next": "https://evil.example"})
    assert resp.headers["Location"] == "/admin"
    _, text = await anon.get("/admin/login")
    assert "Увійти" in text
    _, text = await anon.get("/admin/signup")
    assert "Реєстрація" in text
