"""SMTP settings and the missed-chat wait (issue 10): OWNER only, the password never shown
back and stored encrypted, bad input refused with nothing changed, other tenants' sites
not found, the panel's forms behind CSRF, and the test email."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chatiq.core.security import hash_password
from mail_support import config, smtp, smtp_on  # noqa: F401 (config, smtp: fixtures)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers, owner  # noqa: E402,F401  (fixtures)

GOOD = {"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "bot",
        "password": "hunter2-very-secret", "fromEmail": "help@shop.example",
        "fromName": "Shop help"}


def _row(sql):
    rows = sql("SELECT host, port, security, username, password_enc, from_email, from_name,"
               " base_url FROM mail_settings")
    return rows[0] if rows else None


async def test_settings_round_trip_without_the_password(chat, sql):
    token, _ = await chat.register()
    assert await chat.call("GET", "/api/v1/mail", token) == (200, {"mail": None})
    status, body = await chat.call("PUT", "/api/v1/mail", token, json=GOOD)
    assert status == 200, body
    mail = body["mail"]
    assert "password" not in json.dumps(body).replace("passwordSet", "")
    assert mail["passwordSet"] is True and mail["host"] == "smtp.example.com"
    assert mail["baseUrl"] == chat.base
    stored = _row(sql)
    assert GOOD["password"] not in stored[4] and stored[4].startswith("gAAAA")  # Fernet
    # Absent keeps it; "" removes it.
    status, body = await chat.call("PUT", "/api/v1/mail", token,
                                   json={k: v for k, v in GOOD.items() if k != "password"})
    assert body["mail"]["passwordSet"] is True and _row(sql)[4] == stored[4]
    status, body = await chat.call("PUT", "/api/v1/mail", token, json={**GOOD, "password": ""})
    assert body["mail"]["passwordSet"] is False and _row(sql)[4] is None
    assert (await chat.call("DELETE", "/api/v1/mail", token))[0] == 204
    assert _row(sql) is None
    assert (await chat.call("DELETE", "/api/v1/mail", token))[0] == 404


async def test_changes_are_audited_without_secrets(chat, sql):
    token, _ = await chat.register()
    await chat.call("PUT", "/api/v1/mail", token, json=GOOD)
    await chat.call("DELETE", "/api/v1/mail", token)
    entries = sql("SELECT action, details::text FROM audit_log WHERE action LIKE 'mail.%%'"
                  " ORDER BY id")
    assert [a for a, _ in entries] == ["mail.settings_changed", "mail.settings_removed"]
    assert GOOD["password"] not in entries[0][1] and '"credentials_changed": true' in entries[0][1]


@pytest.mark.parametrize("change, field", [
    ({"host": "smtp example.com"}, "host"),
    ({"host": "smtp.example.com:25"}, "host"),
    ({"host": "::1%eth0"}, "host"),
    ({"host": "smtp.example.com/x"}, "host"),
    ({"host": ""}, "host"),
    ({"port": 0}, "port"),
    ({"port": 70000}, "port"),
    ({"port": "25"}, "port"),
    ({"port": True}, "port"),
    ({"security": "ssl"}, "security"),
    ({"fromEmail": "not-an-address"}, "fromEmail"),
    ({"fromEmail": "a@b.example\r\nBcc: x@y.example"}, "fromEmail"),
    ({"fromName": "Shop\r\nBcc: x@y.example"}, "fromName"),
    ({"username": "bot\n"}, "username"),
    ({"fromName": "x" * 101}, "fromName"),
    ({"password": "x" * 501}, "password"),
])
async def test_bad_settings_change_nothing(chat, sql, change, field):
    token, _ = await chat.register()
    await chat.call("PUT", "/api/v1/mail", token, json=GOOD)
    before = _row(sql)
    status, body = await chat.call("PUT", "/api/v1/mail", token, json={**GOOD, **change})
    assert status in (413, 422), body
    if field is not None:
        assert body["error"]["field"] == field
    assert _row(sql) == before


async def test_malformed_bodies(chat, sql):
    token, _ = await chat.register()
    for raw in ("{", "[1]", '{"host": "\\ud800"}', ""):
        status, body = await chat.call("PUT", "/api/v1/mail", token, data=raw.encode(),
                                       headers={"Content-Type": "application/json"})
        assert status in (400, 422), (raw, body)
    assert _row(sql) is None


async def test_operators_and_other_tenants(chat, sql):
    token, owner_user = await chat.register(organization="A")
    site = await chat.create_site(token)
    token_b, _ = await chat.register(organization="B")
    await chat.call("PUT", "/api/v1/mail", token, json=GOOD)
    # B sees its own (none) and cannot reach A's site's setting.
    assert await chat.call("GET", "/api/v1/mail", token_b) == (200, {"mail": None})
    status, body = await chat.call("GET", f"/api/v1/sites/{site['id']}/missed-chat", token_b)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _ = await chat.call("PUT", f"/api/v1/sites/{site['id']}/missed-chat", token_b,
                                json={"minutes": 1})
    assert status == 404
    # An OPERATOR of A: 403 for the organization's settings, reads the site's wait.
    org = sql("SELECT org_id FROM users WHERE email = %s", (owner_user["email"],))[0][0]
    sql("INSERT INTO users (org_id, email, name, role, password_hash) VALUES"
        " (%s, 'op@example.com', 'Op', 'OPERATOR', %s)",
        (org, await hash_password("correct horse 1", 4)))
    sql("INSERT INTO site_operators SELECT %s, id FROM users WHERE email = 'op@example.com'",
        (int(site["id"][2:]),))
    status, body = await chat.call("POST", "/api/v1/auth/login",
                                   json={"email": "op@example.com", "password": "correct horse 1"})
    op_token = body["token"]
    for method, path, kw in (("GET", "/api/v1/mail", {}), ("PUT", "/api/v1/mail", {"json": GOOD}),
                             ("DELETE", "/api/v1/mail", {}),
                             ("POST", "/api/v1/mail/test", {"json": {"to": "a@example.org"}}),
                             ("PUT", f"/api/v1/sites/{site['id']}/missed-chat",
                              {"json": {"minutes": 3}})):
        status, body = await chat.call(method, path, op_token, **kw)
        assert status == 403, (method, path, body)
    assert await chat.call("GET", f"/api/v1/sites/{site['id']}/missed-chat", op_token) == (
        200, {"missedChat": {"minutes": 5}})
    assert sql("SELECT missed_chat_seconds FROM sites") == [(300,)]


async def test_missed_chat_minutes(chat, sql):
    token, _ = await chat.register()
    site = await chat.create_site(token)
    path = f"/api/v1/sites/{site['id']}/missed-chat"
    assert await chat.call("PUT", path, token, json={"minutes": 0}) == (
        200, {"missedChat": {"minutes": 0}})
    assert sql("SELECT missed_chat_seconds FROM sites") == [(0,)]
    for bad in (-1, 1441, "5", None, 2.5):
        status, _ = await chat.call("PUT", path, token, json={"minutes": bad})
        assert status == 422, bad
    assert sql("SELECT missed_chat_seconds FROM sites") == [(0,)]
    assert (await chat.call("GET", "/api/v1/sites/s_999999/missed-chat", token))[0] == 404


async def test_the_test_email(chat, smtp):
    token, _ = await chat.register()
    status, body = await chat.call("POST", "/api/v1/mail/test", token,
                                   json={"to": "me@example.org"})
    assert status == 409 and body["error"]["code"] == "conflict"
    await smtp_on(chat, token, smtp.port)
    assert await chat.call("POST", "/api/v1/mail/test", token,
                           json={"to": "me@example.org"}) == (200, {"sent": True})
    [message] = await smtp.wait(1)
    assert message["Subject"] == "ChatIQ test email"
    assert message["From"] == "Shop support <chat@shop.example>"
    status, body = await chat.call("POST", "/api/v1/mail/test", token, json={"to": "nope"})
    assert status == 422 and body["error"]["field"] == "to"
    smtp.rcpt_replies = ["550 5.7.1 Relaying denied"]
    status, body = await chat.call("POST", "/api/v1/mail/test", token,
                                   json={"to": "far@example.net"})
    assert status == 502 and body["error"]["code"] == "smtp_failed"
    assert "550" in body["error"]["message"] and "Relaying denied" in body["error"]["message"]


# --- the panel page ----------------------------------------------------------------

PANEL_FORM = {"host": "127.0.0.1", "port": "2525", "security": "none", "username": "",
              "password": "", "from_email": "help@shop.example", "from_name": "Help"}


async def test_panel_page_saves_and_hides_the_password(owner, sql):
    resp, text = await owner.get("/admin/mail")
    assert resp.status == 200 and 'data-mail="off"' in text
    assert 'data-mail-state="off"' in text and "chatiq passwd" in text  # the state at a glance
    resp, text = await owner.post("/admin/mail", {**PANEL_FORM, "password": "pa55word-xyz"})
    assert resp.status == 200 and "Email settings saved." in text
    assert 'data-mail-state="on"' in text and "127.0.0.1:2525" in text
    assert "pa55word-xyz" not in text and "A password is saved" in text
    assert _row(sql)[:4] == ("127.0.0.1", 2525, "none", "")
    # Saving again with the field empty keeps it; the box removes it.
    await owner.post("/admin/mail", PANEL_FORM)
    assert _row(sql)[4] is not None
    await owner.post("/admin/mail", {**PANEL_FORM, "clear_password": "on"})
    assert _row(sql)[4] is None


@pytest.mark.parametrize("change, message", [
    ({"port": "x25"}, "The port is a number from 1 to 65535."),
    ({"port": "99999"}, "The port is a number from 1 to 65535."),
    ({"host": "bad host"}, "Enter the mail server&#39;s host name."),
    ({"security": "ssl"}, "Choose how to secure the connection."),
    ({"from_email": "nobody"}, "Enter a valid from address."),
    ({"from_name": "a\r\nb"}, "From name: at most 100 characters, on one line."),
])
async def test_panel_form_errors(owner, sql, change, message):
    resp, text = await owner.post("/admin/mail", {**PANEL_FORM, **change})
    assert resp.status == 422 and message in text, text
    assert _row(sql) is None


async def test_panel_forms_need_csrf_and_an_owner(owner, browsers, sql):
    site = await owner.create_site()
    for path, form in (("/admin/mail", PANEL_FORM), ("/admin/mail/remove", {}),
                       ("/admin/mail/test", {"to": "a@example.org"}),
                       (f"/admin/mail/sites/{site}", {"minutes": "1"})):
        resp, _ = await owner.post(path, form, csrf=False)
        assert resp.status == 403, path
        resp, _ = await owner.post(path, form, csrf="forged")
        assert resp.status == 403, path
    assert _row(sql) is None and sql("SELECT missed_chat_seconds FROM sites") == [(300,)]
    stranger = browsers()
    resp, _ = await stranger.get("/admin/mail")
    assert resp.status == 302 and resp.headers["Location"].startswith("/admin/login")


async def test_panel_missed_chat_and_other_tenants(owner, browsers, sql):
    site = await owner.create_site(name="Mine")
    resp, text = await owner.post(f"/admin/mail/sites/{site}", {"minutes": "15"})
    assert resp.status == 200 and "Saved for Mine." in text
    assert sql("SELECT missed_chat_seconds FROM sites") == [(900,)]
    for bad in ("-1", "1441", "abc", "00001440000", ""):
        resp, _ = await owner.post(f"/admin/mail/sites/{site}", {"minutes": bad})
        assert resp.status == 422, bad
    other = browsers()
    other.email = await other.signup(organization="Other")
    resp, _ = await other.post(f"/admin/mail/sites/{site}", {"minutes": "0"})
    assert resp.status == 404
    resp, text = await other.get("/admin/mail")
    assert "Mine" not in text
    assert sql("SELECT missed_chat_seconds FROM sites") == [(900,)]


async def test_panel_test_email_shows_the_verdict(owner, smtp, sql):
    resp, text = await owner.post("/admin/mail/test", {"to": "a@example.org"})
    assert resp.status == 409 and "Save the SMTP settings first." in text
    await owner.post("/admin/mail", {**PANEL_FORM, "port": str(smtp.port)})
    resp, text = await owner.post("/admin/mail/test", {"to": "a@example.org"})
    assert resp.status == 200 and "The test email was accepted for a@example.org." in text
    await smtp.wait(1)
    smtp.rcpt_replies = ["550 5.7.1 <b>Relaying</b> denied"]
    resp, text = await owner.post("/admin/mail/test", {"to": "a@example.org"})
    assert resp.status == 502 and "The test email failed: recipient a@example.org refused: 550" \
        in text
    assert "&lt;b&gt;Relaying&lt;/b&gt;" in text  # the server's words are text, not markup
