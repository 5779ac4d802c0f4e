"""Keyboard alone: the widget opens, sends and closes (Esc) without a mouse; the panel's
reply box is reachable by Tab, with the focus always visible; new messages are announced."""

from __future__ import annotations

import pytest
from browser_support import chromium
from panel_tour import signed_in

from conftest import recv_until

FOCUS_SHOWN = """() => { const e = document.activeElement, s = getComputedStyle(e);
    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; }"""


@pytest.fixture
async def browser(live_server):
    async with chromium() as b:
        yield b


async def test_widget_by_keyboard_alone(browser, live_server):
    token, _ = await live_server.register()
    site = await live_server.create_site(token, name="Demo")
    op = await live_server.operator_ws(token)
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{live_server.url}/demo/{site['siteKey']}")
    await page.wait_for_selector('[data-chatiq="launcher"]')
    for _ in range(10):  # Tab until the launcher has the focus
        await page.keyboard.press("Tab")
        if await page.evaluate("() => document.activeElement.localName === 'chatiq-widget'"):
            break
    await page.keyboard.press("Enter")
    await page.wait_for_selector('[data-chatiq="panel"]', state="visible")
    assert await page.evaluate(
        "() => document.querySelector('chatiq-widget').shadowRoot.activeElement.dataset.chatiq") == "input"
    await page.keyboard.type("Typed without a mouse")
    await page.keyboard.press("Enter")
    got = await recv_until(op, "visitor:message")
    assert got["data"]["message"]["text"] == "Typed without a mouse"
    log = page.locator('[data-chatiq="log"]')
    assert await log.get_attribute("role") == "log" and await log.get_attribute("aria-live") == "polite"
    await page.keyboard.press("Escape")
    await page.wait_for_selector('[data-chatiq="panel"]', state="hidden")
    assert await page.evaluate(
        "() => document.querySelector('chatiq-widget').shadowRoot.activeElement.dataset.chatiq") == "launcher"


async def test_panel_reply_box_is_reachable_by_tab_with_visible_focus(browser, live_server):
    page, _, tour = await signed_in(browser, live_server)
    await page.goto(f"{live_server.url}/admin/chats/{tour.chat_id}")
    await page.wait_for_selector("#conn-state[data-state=connected]")
    messages = page.locator("#messages")
    assert await messages.get_attribute("aria-live") == "polite"
    assert await messages.get_attribute("role") == "log"
    unseen = []
    for _ in range(60):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("() => document.activeElement.id || document.activeElement.className")
        if not await page.evaluate(FOCUS_SHOWN):
            unseen.append(focused)
        if focused == "reply-text":
            break
    else:
        raise AssertionError("Tab never reached the reply box")
    assert unseen == [], f"focus not visible on {unseen}"
    await page.keyboard.type("By keyboard")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#message-list li.msg-operator:not(.pending) .text >> text=By keyboard")
