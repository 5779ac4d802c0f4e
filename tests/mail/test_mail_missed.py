"""The missed-chat email (issue 10): exactly one per unanswered stretch, even across a
restart, none when the team answers in time, to the people who work on the site."""

from __future__ import annotations

import asyncio
import uuid


from conftest import ChatHelper, recv_until
from mail_support import (  # noqa: F401 (config, smtp: fixtures)
    config, email_jobs, parts, settle, smtp, smtp_on)


async def _owner_site(chat: ChatHelper, smtp, sql, wait_seconds: int, **register):
    token, user = await chat.register(**register)
    site = await chat.create_site(token, name="Shop <Main>")
    await smtp_on(chat, token, smtp.port)
    sql("UPDATE sites SET missed_chat_seconds = %s", (wait_seconds,))
    return token, user, site


async def test_one_email_across_a_restart(live_server, smtp, sql):
    token, user, site = await _owner_site(live_server, smtp, sql, 2)
    visitor = await live_server.visitor_ws(site["siteKey"], language="en")
    first = await live_server.say(visitor, "<b>Is anyone there?</b>")
    await live_server.say(visitor, "Hello?")  # the same wait: still one job
    await visitor.close()
    [(key, status, attempts, _)] = email_jobs(sql)
    assert key == f"missed:{first['chatId'][2:]}:0" and status == "pending" and attempts == 0

    await live_server.stop()  # down while the job falls due
    await asyncio.sleep(2.5)
    assert smtp.received == []
    await live_server.start()

    [message] = await smtp.wait(1)
    await settle(sql, "sent")
    await asyncio.sleep(0.5)  # more polls: nothing else goes out
    assert len(smtp.received) == 1
    rcpt, _ = smtp.received[0]
    assert rcpt == [user["email"]]
    assert message["Subject"] == "Missed chat on Shop <Main>"
    assert message["Message-ID"].endswith("@shop.example>")
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    assert "<b>Is anyone there?</b>" in text and "Hello?" in text
    assert f"/admin/chats/{first['chatId']}" in text
    assert "&lt;b&gt;Is anyone there?&lt;/b&gt;" in html and "<b>Is" not in html
    assert "Shop &lt;Main&gt;" in html
    assert sql("SELECT attempts, status FROM outbox") == [(1, "sent")]


async def test_no_email_when_an_operator_answers_in_time(chat, smtp, sql):
    token, _, site = await _owner_site(chat, smtp, sql, 1)
    op = await chat.operator_ws(token)
    visitor = await chat.visitor_ws(site["siteKey"])
    said = await chat.say(visitor, "hi")
    await chat.reply(op, said["chatId"], "Hello! How can I help?")
    await settle(sql, "sent", timeout=5)  # the job ran and found the answer
    await asyncio.sleep(0.3)
    assert smtp.received == []
    assert smtp.rcpt_attempts == 0
    # The next unanswered message is a new occurrence: its own wait, its own email.
    await chat.say(visitor, "one more question")
    [message] = await smtp.wait(1)
    jobs = email_jobs(sql)
    assert [k for k, *_ in jobs] == [f"missed:{said['chatId'][2:]}:0",
                                     f"missed:{said['chatId'][2:]}:2"]
    assert "one more question" in parts(message)[0] and "hi\n" not in parts(message)[0]


async def test_operators_of_the_site_in_their_language(chat, smtp, sql):
    token, owner, site = await _owner_site(chat, smtp, sql, 1)
    other = await chat.create_site(token, name="Other")
    org = sql("SELECT org_id FROM users WHERE email = %s", (owner["email"],))[0][0]
    # Two operators who can sign in (uk on this site, en on another) and one still invited.
    for email, lang, site_ref, pw in (("uk@example.com", "uk", site["id"], "x"),
                                      ("en@example.com", "en", other["id"], "x"),
                                      ("pending@example.com", "en", site["id"], None)):
        uid = sql("INSERT INTO users (org_id, email, name, role, language, password_hash)"
                  " VALUES (%s, %s, 'Op', 'OPERATOR', %s, %s) RETURNING id",
                  (org, email, lang, pw))[0][0]
        sql("INSERT INTO site_operators (site_id, user_id) VALUES (%s, %s)",
            (int(site_ref[2:]), uid))
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "привіт")
    messages = await smtp.wait(2)
    await asyncio.sleep(0.3)
    assert len(smtp.received) == 2
    by_to = {tuple(rcpt): m for rcpt, m in smtp.received}
    assert set(by_to) == {(owner["email"],), ("uk@example.com",)}
    assert by_to[("uk@example.com",)]["Subject"] == "Пропущений чат на Shop <Main>"
    assert by_to[("uk@example.com",)]["Content-Language"] == "uk"
    # One job, two letters: each its own Message-ID, both derived from the job's key.
    assert len({m["Message-ID"] for m in messages}) == 2
    assert len(email_jobs(sql)) == 1


async def test_nothing_is_queued_when_off(chat, smtp, sql):
    token, _, site = await _owner_site(chat, smtp, sql, 0)  # 0: off for the site
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "hi")
    token2, _ = await chat.register(organization="No SMTP")
    site2 = await chat.create_site(token2)  # its organization has no SMTP settings
    visitor2 = await chat.visitor_ws(site2["siteKey"])
    await chat.say(visitor2, "hi")
    await chat.say(visitor2, "again")
    assert email_jobs(sql) == []


async def test_the_visitor_email_is_reply_to(chat, smtp, sql):
    token, _, site = await _owner_site(chat, smtp, sql, 1)
    visitor = await chat.visitor_ws(site["siteKey"])
    ref = uuid.uuid4().hex
    await visitor.send_json({"type": "visitor:email", "ref": ref,
                             "data": {"email": "olga@example.org"}})
    await recv_until(visitor, "ack", ref=ref)
    await chat.say(visitor, "Call me back please")
    [message] = await smtp.wait(1)
    assert message["Reply-To"] == "olga@example.org"
    assert "olga@example.org" in parts(message)[0]
