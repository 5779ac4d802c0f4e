"""SMTP refusing, hanging and rejecting credentials (issue 10, "bad input"): each attempt is
logged with the server's reason; permanent refusals are not retried, the rest are."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chatiq.mail import smtp as smtp_mod
from chatiq.mail.messages import build
from chatiq.outbox import DeliveryFailed
from chatiq.store.mail import MailSettings
from mail_support import (  # noqa: F401 (config, smtp: fixtures)
    config, email_jobs, SECRET, settle, silent_port, smtp, smtp_on, start_smtp, USER)


def attempts_log(sql) -> list[tuple]:
    return sql("SELECT attempt, ok, status_code, error FROM outbox_attempts ORDER BY id")


async def _missed_chat(chat, sql, port: int, **smtp_fields):
    """An organization whose visitor's message is due as a missed-chat email at once."""
    token, owner = await chat.register()
    site = await chat.create_site(token)
    await smtp_on(chat, token, port, **smtp_fields)
    sql("UPDATE sites SET missed_chat_seconds = 1")
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "hello?")
    sql("UPDATE outbox SET next_attempt_at = now()")
    return token, owner


async def test_a_permanent_refusal_fails_once_and_is_logged(chat, smtp, sql, caplog):
    caplog.set_level(logging.INFO, logger="chatiq.outbox")
    smtp.rcpt_replies = ["550 5.1.1 No such user here"]
    await _missed_chat(chat, sql, smtp.port)
    _, status, attempts, error = await settle(sql, "failed")
    await asyncio.sleep(0.5)  # backoff would have retried by now
    assert attempts == 1 and smtp.rcpt_attempts == 1 and smtp.received == []
    assert "550" in error and "No such user here" in error
    assert attempts_log(sql) == [(1, False, 550, error)]
    assert "giving up" in caplog.text


async def test_a_temporary_refusal_is_retried_until_accepted(chat, smtp, sql):
    smtp.rcpt_replies = ["451 4.3.0 Mailbox busy, try later", "451 4.3.0 Still busy"]
    await _missed_chat(chat, sql, smtp.port)
    await settle(sql, "sent")
    assert len(smtp.received) == 1
    log = attempts_log(sql)
    assert [(a, ok, code) for a, ok, code, _ in log] == [(1, False, 451), (2, False, 451),
                                                         (3, True, 250)]
    assert "Mailbox busy" in log[0][3]


async def test_a_server_that_never_answers_times_out_and_is_retried(chat, sql):
    listener, port = silent_port()
    try:
        await _missed_chat(chat, sql, port)
        for _ in range(100):
            if len(attempts_log(sql)) >= 2:
                break
            await asyncio.sleep(0.1)
        log = attempts_log(sql)
        assert [(a, ok) for a, ok, _, _ in log[:2]] == [(1, False), (2, False)]
        assert log[0][3] == "timed out after 1 s"
        assert email_jobs(sql)[0][1] in ("pending", "failed")
    finally:
        listener.close()


async def test_wrong_credentials_are_reported_and_retried(chat, sql, unused_tcp_port_factory):
    port = unused_tcp_port_factory()
    inbox, controller = start_smtp(port, with_auth=True)
    try:
        token, _ = await _missed_chat(chat, sql, port, username=USER, password="wrong")
        for _ in range(100):
            if len(attempts_log(sql)) >= 2:
                break
            await asyncio.sleep(0.1)
        log = attempts_log(sql)
        assert log[0][1] is False and log[0][2] == 535
        assert log[0][3].startswith("authentication failed: 535")
        assert inbox.received == []
        # The OWNER fixes the password: the waiting job goes out on its next attempt.
        await smtp_on(chat, token, port, username=USER, password=SECRET)
        sql("UPDATE outbox SET status = 'pending', next_attempt_at = now()")
        await inbox.wait(1)
        await settle(sql, "sent")
    finally:
        controller.stop()


async def test_connection_refused_is_retried(chat, sql, unused_tcp_port_factory):
    await _missed_chat(chat, sql, unused_tcp_port_factory())  # nobody listens there
    for _ in range(100):
        if attempts_log(sql):
            break
        await asyncio.sleep(0.05)
    attempt, ok, code, error = attempts_log(sql)[0]
    assert not ok and code is None and error.startswith("cannot connect to 127.0.0.1:")


def _settings(port: int, security: str = "none") -> MailSettings:
    return MailSettings(org_id=1, host="127.0.0.1", port=port, security=security, username="",
                        password_enc=None, from_email="a@shop.example", from_name="",
                        base_url="http://x", updated_at=None)


def _letter(port: int):
    return build(_settings(port), org_name="Acme", key="k", lang="en",
                 to=[("", "b@example.org")], subject="s", text="t", body_html="<p>t</p>")


async def test_starttls_against_a_server_without_it_is_a_clear_error(smtp):
    letter = _letter(smtp.port)
    server = smtp_mod.Server("127.0.0.1", smtp.port, "starttls", timeout=2)
    with pytest.raises(DeliveryFailed) as caught:
        await smtp_mod.send(server, letter.message, letter.recipients)
    assert "STARTTLS" in str(caught.value) and caught.value.retry
    assert smtp.received == []


async def test_implicit_tls_against_a_plain_server_fails_cleanly(smtp):
    letter = _letter(smtp.port)
    server = smtp_mod.Server("127.0.0.1", smtp.port, "tls", timeout=2)
    with pytest.raises(DeliveryFailed) as caught:
        await smtp_mod.send(server, letter.message, letter.recipients)
    assert caught.value.retry and smtp.received == []


async def test_some_recipients_refused_is_not_retried(smtp):
    """The others have the email: a retry would send theirs twice."""
    smtp.rcpt_replies = ["250 OK", "550 5.1.1 gone"]
    message = build(_settings(smtp.port), org_name="Acme", key="k", lang="en",
                    to=[("", "b@example.org"), ("", "c@example.org")], subject="s", text="t",
                    body_html="<p>t</p>")
    server = smtp_mod.Server("127.0.0.1", smtp.port, "none", timeout=2)
    with pytest.raises(DeliveryFailed) as caught:
        await smtp_mod.send(server, message.message, message.recipients)
    assert caught.value.retry is False and caught.value.status_code == 550
    assert "c@example.org" in str(caught.value)
