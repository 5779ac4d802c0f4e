"""The operator panel in a real browser (Debian chromium) against the real server.

An operator logs in through the form and answers a visitor whose side is a plain
WebSocket client; settings saved in the panel reach that visitor's socket at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from browser_support import DOCS, chromium, logged_in_page

from conftest import recv_until

try:
    from playwright.async_api import expect
except ImportError:  # the browser fixture skips, saying why
    expect = None

XSS = '<img src=x onerror=alert(1)><script>alert(2)</script>'


@pytest.fixture
async def browser():
    async with chromium() as b:
        yield b


async def test_operator_answers_a_visitor_live(browser, live_server):
    token, user = await live_server.register(email="olena@example.com")
    site = await live_server.create_site(token, name="Shop")
    page, console = await logged_in_page(browser, live_server, "olena@example.com")

    visitor = await live_server.visitor_ws(site["siteKey"], pageUrl="https://shop.example/pricing",
                                           pageTitle="Pricing", language="uk-UA")
    await live_server.say(visitor, "Hello! " + XSS)
    item = page.locator(".chat-item").first
    await item.wait_for()  # appeared live, through chat:new
    assert "Hello! " + XSS in await item.locator(".chat-preview").text_content()
    assert await item.locator(".badge.unread").text_content() == "1"

    await item.locator("a").click()
    await page.wait_for_url("**/admin/chats/c_*")
    await page.wait_for_selector("#conn-state[data-state=connected]")
    first = page.locator("#message-list li.msg-visitor .text").first
    await first.wait_for()
    assert await first.text_content() == "Hello! " + XSS  # as text, never as markup
    assert await page.locator("#message-list img").count() == 0
    # The visitor's socket is open: the subscribe ack says so (visitorOnline).
    await expect(page.locator("#visitor-presence")).to_have_attribute("data-online", "true")

    await visitor.send_json({"type": "visitor:typing",
                             "data": {"typing": True, "preview": "Do you ship to Lviv"}})
    await expect(page.locator("#typing-text")).to_have_text("Do you ship to Lviv")
    await expect(page.locator("#typing-preview")).to_be_visible()

    await visitor.send_json({"type": "visitor:page",
                             "data": {"pageUrl": "https://shop.example/cart", "pageTitle": "Cart"}})
    await expect(page.locator("#visitor-page a")).to_have_text("Cart")

    await page.fill("#reply-text", "Hi! Yes, we do.")
    await page.press("#reply-text", "Enter")
    got = await recv_until(visitor, "admin:message")
    assert got["data"]["message"]["text"] == "Hi! Yes, we do."
    mine = page.locator("#message-list li.msg-operator:not(.pending)")
    await mine.first.wait_for()

    await visitor.send_json({"type": "visitor:read", "data": {"seq": got["data"]["message"]["seq"]}})
    await page.wait_for_selector("#message-list li.msg-operator .receipt.read")

    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "panel-chats.png"))
    assert console.problems == []
    await visitor.close()


async def test_saved_settings_reach_an_open_widget(browser, live_server):
    token, _ = await live_server.register(email="taras@example.com")
    site = await live_server.create_site(token, name="Bakery")
    visitor = await live_server.visitor_ws(site["siteKey"])
    page, console = await logged_in_page(browser, live_server, "taras@example.com")

    await page.goto(f"{live_server.url}/admin/sites/{site['id']}/settings")
    await page.locator("input[name=color]").fill("#e11d48")
    await page.fill("textarea[name=greeting]", "Вітаємо! How can we help?")
    await page.fill("textarea[name=quickReplies]", "Delivery\nReturns")
    # The preview follows the form before anything is saved.
    await expect(page.locator(".w-head")).to_have_css("background-color", "rgb(225, 29, 72)")
    assert await page.locator("#preview-greeting").text_content() == "Вітаємо! How can we help?"
    assert await page.locator("#preview-quick span").count() == 2

    await page.click("#settings-form button[type=submit]")
    update = await recv_until(visitor, "settings:update")
    assert update["data"]["settings"]["color"] == "#e11d48"
    assert update["data"]["settings"]["quickReplies"] == ["Delivery", "Returns"]
    await page.wait_for_selector(".flash.ok")
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "panel-settings.png"), full_page=True)
    assert console.problems == []
    await visitor.close()


async def test_panel_speaks_ukrainian_after_switching(browser, live_server):
    await live_server.register(email="iryna@example.com")
    page, console = await logged_in_page(browser, live_server, "iryna@example.com")
    await page.click(".lang-switch button[value=uk]")
    await page.wait_for_selector("html[lang=uk]")
    assert await page.locator(".nav a[href='/admin/chats']").text_content() == "Чати"
    await page.wait_for_selector("#conn-state[data-state=connected]")
    assert await page.locator("#conn-state").text_content() == "На зв'язку"
    await page.goto(live_server.url + "/admin/sites")
    assert await page.locator("h1").text_content() == "Сайти"
    await asyncio.sleep(0)
    assert console.problems == []


async def test_the_live_view_resumes_after_a_server_restart(browser, live_server, sql):
    token, _ = await live_server.register(email="maksym@example.com")
    site = await live_server.create_site(token, name="Shop")
    visitor = await live_server.visitor_ws(site["siteKey"])
    first = await live_server.say(visitor, "before the restart")
    page, console = await logged_in_page(browser, live_server, "maksym@example.com")
    await page.goto(f"{live_server.url}/admin/chats/{first['chatId']}")
    await expect(page.locator("#message-list li.msg-visitor .text")).to_have_text(
        ["before the restart"])

    await live_server.stop()
    await expect(page.locator("#conn-state")).to_have_attribute("data-state", "reconnecting")
    # Stored while the panel was away: only the resubscribe with lastSeq can bring it.
    chat_id = int(first["chatId"][2:])
    sql("UPDATE chats SET last_seq = 2 WHERE id = %s", (chat_id,))
    sql("INSERT INTO messages (chat_id, seq, author_kind, author_id, text)"
        " SELECT id, 2, 'visitor', visitor_id, 'while you were away' FROM chats WHERE id = %s",
        (chat_id,))
    await live_server.start()
    await expect(page.locator("#message-list li.msg-visitor .text")).to_have_text(
        ["before the restart", "while you were away"], timeout=15000)
    await expect(page.locator("#conn-state")).to_have_attribute("data-state", "connected")
    problems = [p for p in console.problems if "WebSocket" not in p]
    assert problems == []
    await visitor.close()


async def test_a_too_big_file_gets_an_inline_notice_not_an_alert(browser, live_server):
    """Regression: a 12 MB file in the reply box popped a native alert()."""
    token, _ = await live_server.register(email="bohdan@example.com")
    site = await live_server.create_site(token, name="Shop")
    visitor = await live_server.visitor_ws(site["siteKey"])
    said = await live_server.say(visitor, "Can you send the manual?")
    page, console = await logged_in_page(browser, live_server, "bohdan@example.com")
    await page.goto(f"{live_server.url}/admin/chats/{said['chatId']}")
    await page.wait_for_selector("#conn-state[data-state=connected]")
    await page.set_input_files("#reply-file", files=[
        {"name": "manual.pdf", "mimeType": "application/pdf", "buffer": b"%PDF" + b"0" * (12 << 20)}])
    await expect(page.locator("#reply-notice")).to_be_visible()
    await expect(page.locator("#reply-notice")).to_have_text("This file is larger than 10 MB.")
    assert await page.get_attribute("#reply-notice", "role") == "alert"
    assert console.problems == []  # no dialog
    await visitor.close()


async def test_business_hours_start_in_the_browsers_time_zone(browser, live_server):
    token, _ = await live_server.register(email="ostap@example.com")
    await live_server.create_site(token, name="Shop")
    page, console = await logged_in_page(browser, live_server, "ostap@example.com",
                                         timezone_id="America/New_York")
    await page.goto(live_server.url + "/admin/hours")
    await expect(page.locator("input[name=timezone]")).to_have_value("America/New_York")
    assert console.problems == []
