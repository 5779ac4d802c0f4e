"""The widget's email ask in a real browser (issue 10): offline capture when nobody is
online, and "email me this conversation" once the chat is closed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from mail_support import config, parts, smtp, smtp_on  # noqa: F401 (config, smtp: fixtures)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))

from browser_support import chromium  # noqa: E402
from test_widget import Widget, op_request, open_page, recv_until  # noqa: E402


@pytest.fixture
async def browser(live_server):
    async with chromium() as b:
        yield b


async def _site(server, smtp, sql):
    token, _ = await server.register()
    site = await server.create_site(token, name="Demo")
    await smtp_on(server, token, smtp.port)
    sql("UPDATE sites SET missed_chat_seconds = 0")
    return token, site


async def _give(w: Widget, email: str) -> None:
    await w.page.fill(w.q("email", " input"), email)
    await w.page.click(w.q("email", " button"))


async def test_offline_capture(browser, live_server, smtp, sql):
    token, site = await _site(live_server, smtp, sql)
    w = await open_page(browser, live_server, site["siteKey"])
    await w.open()
    ask = await w.page.wait_for_selector(w.q("email"), state="visible")
    assert "Leave your email" in await ask.text_content()
    await _give(w, "visitor@example.org")
    note = await w.page.wait_for_selector(w.q("system"))
    assert "We have your email" in await note.text_content()
    await w.page.wait_for_selector(w.q("email"), state="hidden")
    assert sql("SELECT email FROM visitors") == [("visitor@example.org",)]
    # Given once, not asked again after a reload.
    await w.page.reload()
    await w.open()
    await w.page.wait_for_selector(w.q("status", '[data-state="away"]'))
    assert await w.page.is_hidden(w.q("email"))


async def test_transcript_after_close(browser, live_server, smtp, sql):
    token, site = await _site(live_server, smtp, sql)
    op = await live_server.operator_ws(token)
    w = await open_page(browser, live_server, site["siteKey"], language="uk")
    await w.open()
    await w.page.wait_for_selector(w.q("status", '[data-state="online"]'))
    assert await w.page.is_hidden(w.q("email"))  # someone is there: no need to ask
    await w.send("<i>Скільки коштує доставка?</i>")
    got = await recv_until(op, "visitor:message")
    await op_request(op, "chat:close", {"chatId": got["message"]["chatId"]})
    ask = await w.page.wait_for_selector(w.q("email"), state="visible")
    assert "Надіслати мені цю розмову" in await ask.text_content()
    await _give(w, "bad address")  # the browser's own check refuses it: nothing sent
    await asyncio.sleep(0.3)
    assert sql("SELECT email FROM visitors") == [(None,)]
    await _give(w, "guest@example.org")
    await w.page.wait_for_selector(w.q("email"), state="hidden")
    [message] = await smtp.wait(1)
    assert message["Subject"] == "Ваша розмова з Demo"
    assert "<i>Скільки коштує доставка?</i>" in parts(message)[0]


async def test_without_smtp_email_is_only_a_contact_and_no_transcript_is_offered(
        browser, live_server, sql):
    """Regression: with no SMTP the widget promised an answer by email and offered "Email me
    this conversation" (the form vanished, nothing was ever sent)."""
    token, _ = await live_server.register()
    site = await live_server.create_site(token, name="Demo")
    w = await open_page(browser, live_server, site["siteKey"])
    await w.open()
    ask = await w.page.wait_for_selector(w.q("email"), state="visible")
    assert "as a contact" in await ask.text_content()
    assert "answer there" not in await ask.text_content()
    await _give(w, "visitor@example.org")
    note = await w.page.wait_for_selector(w.q("system"))
    assert "sends no emails" in await note.text_content()
    assert sql("SELECT email FROM visitors") == [("visitor@example.org",)]

    op = await live_server.operator_ws(token)
    await w.send("Anyone there?")
    got = await recv_until(op, "visitor:message")
    await op_request(op, "chat:close", {"chatId": got["message"]["chatId"]})
    await w.page.wait_for_selector(w.q("system") + ":has-text('closed')")
    await asyncio.sleep(0.3)
    assert await w.page.is_hidden(w.q("email"))
