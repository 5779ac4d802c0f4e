"""Verified visitor identity in real browsers (Debian chromium) against the real server:
two browsers of one signed-in customer share a history, a forged hash is refused calmly.

Each browser context has its own storage, so it is another device to the server. The host
page is the server's /demo page; an init script hands it `window.chtq.user`, as a site's
own page would after its server signed the customer's id.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from browser_support import chromium

from chatiq.core.identity import sign

# Sets window.chtq.user whenever the page assigns window.chtq (the demo page does, before
# loading the widget), like a site's template that prints the signed customer.
INJECT_USER = """(user => {
  let cfg;
  Object.defineProperty(window, 'chtq', {configurable: true,
    get() { return cfg; }, set(v) { cfg = v; if (v && typeof v === 'object') v.user = user; }});
})(%s);"""


@pytest.fixture
async def browser(live_server):
    async with chromium() as b:
        yield b


async def site_with_identity(server):
    token, _ = await server.register()
    site = await server.create_site(token, name="Shop")
    status, body = await server.call("PATCH", f"/api/v1/sites/{site['id']}/identity", token,
                                     json={"enforce": True})
    assert status == 200, body
    return token, site, body["identity"]["secret"]


class Device:
    """One browser context (its own localStorage) with the widget open on the demo page."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        self.sockets = 0
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("websocket", self._socket)

    def _socket(self, ws):
        self.sockets += 1

    @classmethod
    async def open(cls, browser, server, site_key: str, user: dict) -> "Device":
        context = await browser.new_context(viewport={"width": 1000, "height": 700})
        await context.add_init_script(INJECT_USER % json.dumps(user))
        page = await context.new_page()
        device = cls(page)
        await page.goto(f"{server.url}/demo/{site_key}")
        await page.click('[data-chatiq="launcher"]', timeout=10_000)
        await page.wait_for_selector('[data-chatiq="panel"]', state="visible")
        return device

    async def texts(self) -> list[str]:
        return await self.page.eval_on_selector_all(
            '[data-chatiq="message"]', "els => els.map(e => e.querySelector('.b').textContent)")

    async def wait_for_text(self, text: str) -> None:
        try:
            await self.page.wait_for_function(
                """t => [...document.querySelectorAll('*')].some(h => h.shadowRoot &&
                    [...h.shadowRoot.querySelectorAll('[data-chatiq="message"] .b')]
                      .some(e => e.textContent === t))""", arg=text, timeout=10_000)
        except Exception:
            raise AssertionError(f"{text!r} never showed; messages {await self.texts()},"
                                 f" console {self.console}") from None

    async def send(self, text: str) -> None:
        await self.page.fill('[data-chatiq="input"]', text)
        await self.page.press('[data-chatiq="input"]', "Enter")
        await self.page.wait_for_selector('[data-chatiq="message"][data-status="sent"]')


async def test_two_browsers_of_one_customer_share_history_and_a_forged_hash_is_refused(
        browser, live_server, sql):
    token, site, secret = await site_with_identity(live_server)
    customer = {"id": "cust-1001", "name": "Taras", "email": "taras@example.com",
                "hash": sign(secret, "cust-1001")}

    laptop = await Device.open(browser, live_server, site["siteKey"], customer)
    await laptop.send("Hello from my laptop")

    phone = await Device.open(browser, live_server, site["siteKey"], customer)
    await phone.wait_for_text("Hello from my laptop")
    await phone.send("And from my phone")
    await laptop.wait_for_text("And from my phone")  # live, on the other device

    # One verified visitor with one chat; each browser holds its own token.
    rows = sql("SELECT external_id, name, email FROM visitors")
    assert rows == [("cust-1001", "Taras", "taras@example.com")]
    tokens = [await d.page.evaluate(
        "Object.entries(localStorage).filter(([k]) => k.endsWith(':u:cust-1001'))"
        ".map(([, v]) => v)") for d in (laptop, phone)]
    assert all(len(t) == 1 for t in tokens) and tokens[0] != tokens[1]
    op = await live_server.operator_ws(token)
    (summary,) = op.ready["chats"]
    assert summary["visitor"]["verified"] is True and summary["visitor"]["name"] == "Taras"

    # A third browser forges the hash: told to sign in, and it does not keep reconnecting.
    forged = await Device.open(browser, live_server, site["siteKey"],
                               {**customer, "hash": sign("not the secret", "cust-1001")})
    conn = forged.page.locator('[data-chatiq="conn"]')
    await conn.wait_for(state="visible")
    assert await conn.text_content() == "Sign in to chat with us."
    assert await forged.page.locator('[data-chatiq="composer"]').is_hidden()
    assert await forged.texts() == []
    await asyncio.sleep(3)  # several backoff periods: a retrying widget would reconnect
    assert forged.sockets == 1, forged.console
    assert any("identity refused" in line for line in forged.console), forged.console
    assert sql("SELECT count(*) FROM visitors")[0][0] == 1


async def test_signing_in_and_out_without_a_page_load(browser, live_server, sql):
    """chtq.identify(): a refused anonymous widget joins once the page knows the customer;
    signing out shows none of the customer's chat."""
    token, site, secret = await site_with_identity(live_server)
    customer = {"id": "cust-7", "name": "Ivanna", "hash": sign(secret, "cust-7")}
    earlier = await Device.open(browser, live_server, site["siteKey"], customer)
    await earlier.send("my earlier question")

    page = await Device.open(browser, live_server, site["siteKey"], None)
    conn = page.page.locator('[data-chatiq="conn"]')
    await conn.wait_for(state="visible")
    assert await conn.text_content() == "Sign in to chat with us."
    await page.page.evaluate("u => window.chtq.identify(u)", customer)
    await page.wait_for_text("my earlier question")
    assert await page.page.locator('[data-chatiq="composer"]').is_visible()

    status, _ = await live_server.call("PATCH", f"/api/v1/sites/{site['id']}/identity", token,
                                       json={"enforce": False})
    assert status == 200
    await page.page.evaluate("() => window.chtq.identify(null)")
    await page.page.wait_for_function(
        """() => [...document.querySelectorAll('*')].some(h => h.shadowRoot &&
            h.shadowRoot.querySelector('[data-chatiq="conn"]') &&
            h.shadowRoot.querySelector('[data-chatiq="conn"]').hidden) &&
            window.chtq.user === null""", timeout=10_000)
    await page.page.wait_for_function(
        """() => ![...document.querySelectorAll('*')].some(h => h.shadowRoot &&
            h.shadowRoot.querySelector('[data-chatiq="message"]'))""", timeout=10_000)
    assert sql("SELECT count(*) FROM visitors WHERE external_id IS NULL")[0][0] == 1
