"""`visitor:email` (issue 10): the visitor's address for offline capture, the transcript by
email on request, and the frame's bad input (refused frames change nothing)."""

from __future__ import annotations

import asyncio

import pytest

from conftest import recv_until, request
from mail_support import (  # noqa: F401 (config, smtp: fixtures)
    config, email_jobs, parts, settle, smtp, smtp_on)


async def _closed_chat(chat, smtp, sql, *, language="en"):
    token, owner = await chat.register(name="Olena")
    site = await chat.create_site(token, name="Flower shop")
    await smtp_on(chat, token, smtp.port)
    sql("UPDATE sites SET missed_chat_seconds = 0")  # only the transcript in these tests
    op = await chat.operator_ws(token)
    visitor = await chat.visitor_ws(site["siteKey"], language=language)
    said = await chat.say(visitor, "Do you deliver <roses> & tulips?")
    await chat.reply(op, said["chatId"], "Yes, every day until 6 pm.")
    reply = await request(op, "chat:close", {"chatId": said["chatId"]})
    assert reply["type"] == "ack", reply
    await recv_until(visitor, "chat:closed")
    return token, op, visitor, said["chatId"]


def _visitor_email(sql, chat_id: str):
    return sql("SELECT v.email FROM visitors v JOIN chats c ON c.visitor_id = v.id"
               " WHERE c.id = %s", (int(chat_id[2:]),))[0][0]


async def test_transcript_after_the_chat_closed(chat, smtp, sql):
    _, op, visitor, chat_id = await _closed_chat(chat, smtp, sql, language="uk-UA")
    reply = await request(visitor, "visitor:email",
                          {"email": " guest@example.org ", "transcript": True})
    assert reply["type"] == "ack" and reply["data"] == {"email": "guest@example.org",
                                                        "transcript": True}
    # Operators see the address at once.
    updated = await recv_until(op, "chat:updated")
    assert updated["data"]["chat"]["visitor"]["email"] == "guest@example.org"
    [message] = await smtp.wait(1)
    rcpt, _ = smtp.received[0]
    assert rcpt == ["guest@example.org"]
    assert message["Subject"] == "Ваша розмова з Flower shop"
    text, html = parts(message)
    assert "Do you deliver <roses> & tulips?" in text
    assert "Olena:" in text and "Yes, every day until 6 pm." in text
    assert "&lt;roses&gt; &amp; tulips" in html and "<roses>" not in html
    # Asking again for the same chat and address: the same job, one email.
    again = await request(visitor, "visitor:email", {"email": "guest@example.org",
                                                     "transcript": True})
    assert again["data"]["transcript"] is True
    await settle(sql, "sent")
    await asyncio.sleep(0.3)
    assert len(smtp.received) == 1 and len(email_jobs(sql)) == 1


async def test_offline_capture_keeps_the_address(chat, smtp, sql):
    token, _ = await chat.register()
    site = await chat.create_site(token)
    visitor = await chat.visitor_ws(site["siteKey"])
    # Nobody online and no chat yet: the widget asks for an address first.
    reply = await request(visitor, "visitor:email", {"email": "late@example.org"})
    assert reply["data"] == {"email": "late@example.org", "transcript": False}
    said = await chat.say(visitor, "Please write back tomorrow")
    assert _visitor_email(sql, said["chatId"]) == "late@example.org"
    status, body = await chat.call("GET", f"/api/v1/chats/{said['chatId']}", token)
    assert body["chat"]["visitor"]["email"] == "late@example.org"
    assert email_jobs(sql) == []  # no SMTP settings: nothing queued, nothing fails


async def test_no_smtp_settings_means_no_transcript(chat, smtp, sql):
    token, op, visitor, chat_id = await _closed_chat(chat, smtp, sql)
    assert (await chat.call("DELETE", "/api/v1/mail", token))[0] == 204
    reply = await request(visitor, "visitor:email", {"email": "a@example.org",
                                                     "transcript": True})
    assert reply["data"]["transcript"] is False
    assert email_jobs(sql) == [] and _visitor_email(sql, chat_id) == "a@example.org"


@pytest.mark.parametrize("data, code", [
    ({"email": "not an address"}, "invalid"),
    ({"email": "a@b"}, "invalid"),
    ({"email": "x@example.org\r\nBcc: victim@example.org"}, "invalid"),
    ({"email": "a,b@example.org"}, "invalid"),
    ({"email": "a@example.org", "transcript": "yes"}, "bad_frame"),
    ({"email": 42}, "bad_frame"),
    ({"email": "a" * 250 + "@example.org"}, "too_large"),
    ({}, "invalid"),
])
async def test_bad_input_is_refused_and_changes_nothing(chat, smtp, sql, data, code):
    _, _, visitor, chat_id = await _closed_chat(chat, smtp, sql)
    reply = await request(visitor, "visitor:email", data)
    assert reply["type"] == "error" and reply["data"]["code"] == code, reply
    assert _visitor_email(sql, chat_id) is None and email_jobs(sql) == []


async def test_transcript_without_a_chat_and_before_join(chat, smtp, sql):
    token, _ = await chat.register()
    site = await chat.create_site(token)
    await smtp_on(chat, token, smtp.port)
    visitor = await chat.visitor_ws(site["siteKey"])
    reply = await request(visitor, "visitor:email", {"email": "a@example.org",
                                                     "transcript": True})
    assert reply["data"]["code"] == "not_found"
    assert sql("SELECT count(*) FROM visitors WHERE email IS NOT NULL") == [(0,)]
    stranger = await chat.session.ws_connect(chat.base + "/ws/widget")
    reply = await request(stranger, "visitor:email", {"email": "a@example.org"})
    assert reply["data"]["code"] == "not_joined"


async def test_transcripts_are_rate_limited_per_address(chat, smtp, sql):
    _, _, visitor, chat_id = await _closed_chat(chat, smtp, sql)
    for n in range(5):
        reply = await request(visitor, "visitor:email", {"email": f"v{n}@example.org",
                                                         "transcript": True})
        assert reply["type"] == "ack", reply
    reply = await request(visitor, "visitor:email", {"email": "v9@example.org",
                                                     "transcript": True})
    assert reply["data"]["code"] == "rate_limited" and reply["data"]["retryAfter"] >= 1
    assert _visitor_email(sql, chat_id) == "v4@example.org"  # the refused one stored nothing
    assert len(email_jobs(sql)) == 5


async def test_an_erased_chat_is_not_mailed(chat, smtp, sql):
    token, _, visitor, chat_id = await _closed_chat(chat, smtp, sql)
    org = sql("SELECT org_id FROM sites")[0][0]
    sql("DELETE FROM chats")  # erased (retention, GDPR) before the worker got to the job
    sql("INSERT INTO outbox (org_id, kind, dedupe_key, payload) VALUES (%s, 'email',"
        " 'transcript:gone', %s)", (org, '{"type": "transcript", "chat": %s,'
                                         ' "to": "a@example.org", "lang": "en"}' % chat_id[2:]))
    await settle(sql, "sent")
    await asyncio.sleep(0.2)
    assert smtp.received == []


async def test_without_smtp_the_widget_is_told_and_no_transcript_is_queued(chat, sql):
    """Regression: with no SMTP the widget offered "Email me this conversation" and the job
    waited in the outbox for ever; the session now says features.email is false."""
    token, _ = await chat.register(name="Olena")
    site = await chat.create_site(token, name="Flower shop")
    op = await chat.operator_ws(token)
    visitor = await chat.visitor_ws(site["siteKey"])
    assert visitor.session["features"]["email"] is False
    said = await chat.say(visitor, "Hello?")
    await request(op, "chat:close", {"chatId": said["chatId"]})
    await recv_until(visitor, "chat:closed")
    reply = await request(visitor, "visitor:email", {"email": "guest@example.org",
                                                     "transcript": True})
    assert reply["data"] == {"email": "guest@example.org", "transcript": False}
    assert email_jobs(sql) == []
    assert _visitor_email(sql, said["chatId"]) == "guest@example.org"  # kept as a contact


async def test_with_smtp_the_session_says_email_works(chat, smtp, sql):
    _, _, visitor, _ = await _closed_chat(chat, smtp, sql)
    assert visitor.session["features"]["email"] is True
