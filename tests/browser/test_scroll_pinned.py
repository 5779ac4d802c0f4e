"""Images that decode after a chat was scrolled to its end keep the reader at the end,
in the widget and in the panel (Debian chromium against the real server)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from browser_support import chromium, logged_in_page, operator_upload, png

from conftest import recv_until

# How far from the end a view may sit and still count as "at the end" (sub-pixel rounding).
SLACK = 2


@pytest.fixture
async def browser(live_server):
    async with chromium() as b:
        yield b


async def slow_thumbnails(page) -> None:
    """Serve thumbnails late, as a fresh browser on a real network does: the bug shows only
    when an image decodes after the view was scrolled to the end."""
    async def later(route):
        await asyncio.sleep(0.6)
        await route.continue_()
    await page.route("**/files/*/thumb*", later)


async def images_loaded(page, root: str) -> None:
    await page.wait_for_function(f"""() => {{
        const imgs = [...{root}.querySelectorAll('img')];
        return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
    }}""", timeout=10_000)


async def test_widget_stays_at_the_end_when_an_operator_image_loads(browser, live_server):
    """Regression: an operator's 600×900 image left the widget ~220 px short of the end."""
    token, site = await _site(live_server)
    op = await live_server.operator_ws(token)
    page = await (await browser.new_context(viewport={"width": 1100, "height": 760})).new_page()
    await slow_thumbnails(page)
    await page.goto(f"{live_server.url}/demo/{site['siteKey']}")
    await page.click('[data-chatiq="launcher"]', timeout=10_000)
    await page.fill('[data-chatiq="input"]', "Can I see the back of the jacket?")
    await page.press('[data-chatiq="input"]', "Enter")
    chat_id = (await recv_until(op, "visitor:message"))["data"]["message"]["chatId"]
    for i in range(8):
        await live_server.reply(op, chat_id, f"Let me look, one moment ({i})")
    attachment = await operator_upload(live_server, token, chat_id, "jacket.png", png(600, 900))
    await _send_attachment(op, chat_id, attachment["id"])
    root = "document.querySelector('chatiq-widget').shadowRoot"
    await images_loaded(page, root)
    await page.wait_for_timeout(100)
    gap = await page.evaluate(f"""() => {{ const l = {root}.querySelector('[data-chatiq=log]');
        return l.scrollHeight - l.scrollTop - l.clientHeight; }}""")
    assert gap <= SLACK, f"the widget sits {gap}px above its newest message"
    await page.context.close()


async def test_panel_opens_a_chat_with_images_at_its_end(browser, live_server):
    """Regression: a chat with two images opened in a fresh browser sat ~300 px above the
    end; a 600×900 image arriving live left the panel ~240 px short."""
    token, site = await _site(live_server)
    visitor = await live_server.visitor_ws(site["siteKey"])
    chat_id = (await live_server.say(visitor, "Here are the photos"))["chatId"]
    op = await live_server.operator_ws(token)
    for i in range(10):
        await live_server.reply(op, chat_id, f"Looking at it now ({i})")
    for name in ("front.png", "back.png"):
        attachment = await operator_upload(live_server, token, chat_id, name, png(600, 900))
        await _send_attachment(op, chat_id, attachment["id"])

    page, _ = await logged_in_page(browser, live_server, "pinned@example.com", height=760)
    await slow_thumbnails(page)
    await page.goto(f"{live_server.url}/admin/chats/{chat_id}")
    await images_loaded(page, "document.getElementById('message-list')")
    await page.wait_for_timeout(100)
    assert await _panel_gap(page) <= SLACK, "the chat opened above its newest message"

    attachment = await operator_upload(live_server, token, chat_id, "side.png", png(600, 900))
    await _send_attachment(op, chat_id, attachment["id"])
    await page.wait_for_function(
        "() => document.querySelectorAll('#message-list img').length === 3")
    await images_loaded(page, "document.getElementById('message-list')")
    await page.wait_for_timeout(100)
    assert await _panel_gap(page) <= SLACK, "a live image left the view short of the end"
    await page.context.close()


async def _site(server):
    token, _ = await server.register(email="pinned@example.com")
    return token, await server.create_site(token, name="Shop")


async def _send_attachment(op, chat_id: str, attachment_id: str) -> None:
    ref = uuid.uuid4().hex
    await op.send_json({"type": "operator:message", "ref": ref, "data": {
        "chatId": chat_id, "clientId": uuid.uuid4().hex, "attachmentId": attachment_id}})
    frame = await recv_until(op, "ack", ref=ref)
    assert "message" in frame["data"], frame


async def _panel_gap(page) -> float:
    return await page.evaluate("""() => { const m = document.getElementById('messages');
        return m.scrollHeight - m.scrollTop - m.clientHeight; }""")
