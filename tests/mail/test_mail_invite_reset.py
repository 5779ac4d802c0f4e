"""Invitations by email and "Forgot password?" (issue 10): the link arrives once, works once
and for an hour, old sessions and tokens die, a forged or spent link is refused, and asking
never tells whether an account exists."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path


from mail_support import (  # noqa: F401 (config, smtp: fixtures)
    config, email_jobs, parts, settle, smtp)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel"))

from panel_helpers import browsers, owner  # noqa: E402,F401  (fixtures)

LINK = re.compile(r"(http://\S+/admin/(?:invite|password/reset)/[A-Za-z0-9_-]+)")
PASSWORD = "correct horse 1"


async def _smtp_for(owner, smtp, port: int | None = None):
    resp, text = await owner.post("/admin/mail", {
        "host": "127.0.0.1", "port": str(port or smtp.port), "security": "none",
        "from_email": "team@shop.example", "from_name": "Shop"})
    assert resp.status == 200, text


def _path(link: str) -> str:
    return "/admin/" + link.split("/admin/", 1)[1]


async def test_an_invitation_is_emailed_and_still_shown(owner, browsers, smtp, sql):
    resp, text = await owner.post("/admin/team/invite", {"email": "new@example.com",
                                                         "name": "Newbie"})
    assert resp.status == 201 and 'data-emailed="1"' not in text  # no SMTP yet: link only
    await _smtp_for(owner, smtp)
    reinvite_ref = sql("SELECT id FROM users WHERE email = 'new@example.com'")[0][0]
    resp, text = await owner.post(f"/admin/team/u_{reinvite_ref}/reinvite")
    assert resp.status == 200 and 'data-emailed="1"' in text
    shown = text.split('id="invite-link">')[1].split("<")[0]
    [message] = await smtp.wait(1)
    rcpt, _ = smtp.received[0]
    assert rcpt == ["new@example.com"]
    assert message["Subject"] == "Olena invited you to Acme on ChatIQ"
    text_part, html_part = parts(message)
    assert LINK.search(text_part).group(1) == shown and f'href="{shown}"' in html_part
    # The job keeps the link sealed, never in clear.
    assert shown.rsplit("/", 1)[1] not in str(sql("SELECT payload FROM outbox"))
    # The emailed link works.
    newbie = browsers()
    resp, _ = await newbie.get(_path(shown))
    assert resp.status == 200
    resp, _ = await newbie.post(_path(shown), {"name": "Newbie", "password": PASSWORD})
    assert resp.status == 302


async def test_an_accepted_invitation_is_not_emailed_late(owner, browsers, smtp, sql,
                                                        unused_tcp_port_factory):
    await _smtp_for(owner, smtp, port=unused_tcp_port_factory())  # unreachable for now
    resp, text = await owner.post("/admin/team/invite", {"email": "quick@example.com"})
    shown = text.split('id="invite-link">')[1].split("<")[0]
    for _ in range(100):  # the first attempt failed; the job waits for a retry
        if sql("SELECT count(*) FROM outbox_attempts") != [(0,)]:
            break
        await asyncio.sleep(0.05)
    newbie = browsers()
    await newbie.get(_path(shown))
    resp, _ = await newbie.post(_path(shown), {"name": "Quick", "password": PASSWORD})
    assert resp.status == 302
    await _smtp_for(owner, smtp)
    sql("UPDATE outbox SET status = 'pending', next_attempt_at = now()")
    await settle(sql, "sent")
    assert smtp.received == []


async def _ask_reset(browser, email: str):
    await browser.get("/admin/password/forgot")
    return await browser.post("/admin/password/forgot", {"email": email})


async def test_password_reset_end_to_end(owner, browsers, smtp, sql, chat):
    await _smtp_for(owner, smtp)
    status, body = await chat.call("POST", "/api/v1/auth/login",
                                   json={"email": owner.email, "password": PASSWORD})
    old_token = body["token"]
    stranger = browsers()
    resp, text = await stranger.get("/admin/login")
    assert 'href="/admin/password/forgot"' in text
    resp, text = await _ask_reset(stranger, owner.email.upper())
    assert resp.status == 200 and 'data-reset="sent"' in text
    [message] = await smtp.wait(1)
    assert message["Subject"] == "Reset your ChatIQ password"
    link = LINK.search(parts(message)[0]).group(1)
    token = link.rsplit("/", 1)[1]
    assert sql("SELECT count(*) FROM password_resets WHERE token_hash = sha256(%s::bytea)",
               (token,)) == [(1,)]
    assert token not in str(sql("SELECT payload FROM outbox"))
    resp, text = await stranger.get(_path(link))
    assert resp.status == 200 and owner.email in text
    resp, text = await stranger.post(_path(link), {"password": "short"})
    assert resp.status == 422
    resp, text = await stranger.post(_path(link), {"password": "a brand new secret"})
    assert resp.status == 200 and 'data-reset="done"' in text
    # Every old session and token is dead; the new password works, the old one not.
    assert (await chat.call("GET", "/api/v1/auth/me", old_token))[0] == 401
    resp, _ = await owner.get("/admin/chats")
    assert resp.status == 302
    resp, _ = await owner.login(owner.email, PASSWORD)
    assert resp.status == 401
    resp, _ = await owner.login(owner.email, "a brand new secret")
    assert resp.status == 302
    # The link worked once.
    resp, text = await stranger.get(_path(link))
    assert resp.status == 404 and 'data-reset="invalid"' in text
    resp, _ = await stranger.post(_path(link), {"password": "and another one"})
    assert resp.status == 404
    actions = [a for (a,) in sql("SELECT action FROM audit_log WHERE action LIKE"
                                 " 'auth.password%%' ORDER BY id")]
    assert actions == ["auth.password_reset_requested", "auth.password_reset"]


async def test_expired_forged_and_replaced_links(owner, browsers, smtp, sql):
    await _smtp_for(owner, smtp)
    stranger = browsers()
    await _ask_reset(stranger, owner.email)
    [first] = await smtp.wait(1)
    first_link = LINK.search(parts(first)[0]).group(1)
    await _ask_reset(stranger, owner.email)
    await smtp.wait(2)
    second_link = LINK.search(parts(smtp.messages[1])[0]).group(1)
    # Asking again spends the older link.
    resp, _ = await stranger.get(_path(first_link))
    assert resp.status == 404
    token = second_link.rsplit("/", 1)[1]
    altered = token[:-1] + ("B" if token[-1] == "A" else "A")
    for forged in ("x", altered, "%00", "a" * 300):
        resp, _ = await stranger.get(f"/admin/password/reset/{forged}")
        assert resp.status == 404, forged
        resp, _ = await stranger.post(f"/admin/password/reset/{forged}",
                                      {"password": "a brand new secret"})
        assert resp.status == 404, forged
    sql("UPDATE password_resets SET expires_at = now() - interval '1 second'")
    resp, _ = await stranger.post(_path(second_link), {"password": "a brand new secret"})
    assert resp.status == 404
    resp, _ = await owner.login(owner.email, PASSWORD)  # unchanged
    assert resp.status == 302


async def test_asking_reveals_nothing_and_is_limited(owner, browsers, smtp, sql):
    await _smtp_for(owner, smtp)
    stranger = browsers()
    resp, unknown = await _ask_reset(stranger, "nobody@example.com")
    resp2, known = await _ask_reset(stranger, owner.email)
    assert resp.status == resp2.status == 200
    assert unknown == known  # the same page, whoever asked about whom
    await smtp.wait(1)
    await asyncio.sleep(0.3)
    assert len(smtp.received) == 1
    for _ in range(2):  # three per email address, then a wait
        resp, _ = await _ask_reset(stranger, owner.email)
        assert resp.status == 200
    resp, text = await _ask_reset(stranger, owner.email)
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert len(email_jobs(sql)) == 3
    resp, text = await _ask_reset(stranger, "not an email")
    assert resp.status == 422


async def test_no_smtp_no_email_and_csrf(owner, browsers, sql):
    """Regression: without SMTP the page said a link was on its way; it now says email is
    not set up and points to `chatiq passwd`."""
    stranger = browsers()
    _, page = await stranger.get("/admin/password/forgot")
    assert 'data-reset="no-mail"' in page and "chatiq passwd" in page
    resp, text = await _ask_reset(stranger, owner.email)
    assert resp.status == 200 and 'data-reset="sent"' not in text
    assert 'data-reset="no-mail"' in text and "chatiq passwd" in text
    assert email_jobs(sql) == [] and sql("SELECT count(*) FROM password_resets") == [(0,)]
    resp, _ = await stranger.post("/admin/password/forgot", {"email": owner.email}, csrf=False)
    assert resp.status == 403
    resp, _ = await stranger.post("/admin/password/reset/anything", {"password": "x" * 12},
                                  csrf="forged")
    assert resp.status == 403
