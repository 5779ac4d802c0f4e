"""The embeddable widget in a real browser (Debian chromium) against the real server.

Each test serves a host page from the server's own origin and drives the widget inside its
open shadow root; the operator side is a plain WebSocket client.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import uuid
import zlib
from pathlib import Path

import pytest
from browser_support import DOCS, chromium

XSS = '<img src=x onerror=alert(1)> <script>alert(2)</script> javascript:alert(3)'


@pytest.fixture
async def browser(live_server):
    """Chromium, set up after (so closed before) the live server: widgets must not be
    reconnecting while the server shuts down at the end of a test."""
    async with chromium() as b:
        yield b


class Widget:
    """One browser page with the widget; records console warnings, dialogs and sockets."""

    def __init__(self, page):
        self.page = page
        self.warnings: list[str] = []
        self.dialogs: list[str] = []
        self.sockets: list[str] = []
        self.console: list[str] = []  # everything, for failure messages
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        page.on("dialog", self._dialog)
        page.on("websocket", lambda ws: self.sockets.append(ws.url))

    def _console(self, m):
        self.console.append(f"{m.type}: {m.text}")
        if m.type == "warning":
            self.warnings.append(m.text)

    async def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def q(self, name: str, extra: str = "") -> str:
        return f'[data-chatiq="{name}"]{extra}'

    async def open(self):
        await self.page.click(self.q("launcher"), timeout=10_000)
        await self.page.wait_for_selector(self.q("panel"), state="visible")

    async def send(self, text: str):
        await self.page.fill(self.q("input"), text)
        await self.page.press(self.q("input"), "Enter")

    async def messages(self) -> list[dict]:
        return await self.page.eval_on_selector_all(self.q("message"), """els => els.map(e => ({
            seq: e.dataset.seq ? +e.dataset.seq : null, kind: e.dataset.kind,
            status: e.dataset.status || null, text: e.querySelector('.b').textContent}))""")


async def open_page(browser, server, site_key: str, *, language: str | None = None,
                    scheme: str = "light", storage: dict | None = None) -> Widget:
    """The server's /demo page: a plain host page embedding the widget with the snippet.

    (Chromium's local-network-access checks refuse a loopback WebSocket from a page that
    Playwright fulfilled itself, so host pages come from the server; page tweaks are injected.)
    """
    context = await browser.new_context(color_scheme=scheme, viewport={"width": 1100, "height": 760},
                                        storage_state=storage)
    page = await context.new_page()
    widget = Widget(page)
    query = f"?language={language}" if language else ""
    await page.goto(f"{server.url}/demo/{site_key}{query}")
    return widget


async def setup(server, **settings):
    token, _ = await server.register()
    site = await server.create_site(token, name="Demo")
    if settings:
        status, body = await server.call("PATCH", f"/api/v1/sites/{site['id']}/settings", token,
                                         json=settings)
        assert status == 200, body
    return token, site


async def recv_until(ws, ftype: str, timeout: float = 5.0, match=lambda d: True) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - loop.time()))
        assert msg.type.name == "TEXT", f"operator socket got {msg.type.name} waiting for {ftype}"
        frame = json.loads(msg.data)
        if frame["type"] == ftype and match(frame.get("data") or {}):
            return frame["data"]


async def op_request(ws, ftype: str, data: dict) -> dict:
    ref = uuid.uuid4().hex
    await ws.send_json({"type": ftype, "data": data, "ref": ref})
    while True:
        msg = await ws.receive(timeout=5)
        frame = json.loads(msg.data)
        if frame.get("ref") == ref:
            assert frame["type"] == "ack", frame
            return frame["data"]


async def start_chat(browser, server, text="Hello from the widget", **page_kw):
    """A visitor who wrote once, and an operator who saw it: (widget, op socket, message, token)."""
    token, site = await setup(server)
    op = await server.operator_ws(token)
    w = await open_page(browser, server, site["siteKey"], **page_kw)
    await w.open()
    await w.send(text)
    try:
        got = await recv_until(op, "visitor:message")
    except (TimeoutError, asyncio.TimeoutError):
        raise AssertionError(f"operator never saw the message; widget console: {w.console}, "
                             f"sockets: {w.sockets}, messages: {await w.messages()}")
    await w.page.wait_for_selector(w.q("message", '[data-status="sent"]'))
    return w, op, got["message"], token


async def test_message_round_trip(browser, live_server):
    w, op, message, _ = await start_chat(browser, live_server)
    assert message["text"] == "Hello from the widget" and message["seq"] == 1
    await op_request(op, "operator:message", {"chatId": message["chatId"],
                                              "clientId": uuid.uuid4().hex, "text": "Hi, Olena here"})
    el = await w.page.wait_for_selector(w.q("message", '[data-kind="operator"]'))
    assert "Hi, Olena here" in await el.text_content()
    assert [m["seq"] for m in await w.messages()] == [1, 2]


async def test_an_erased_visitor_starts_afresh(browser, live_server):
    """The site erased this visitor's data (GDPR, close 4410): the widget shows none of the
    erased conversation and joins again as a new, empty visitor with a new token (it also
    drops its unsent outbox, so nothing typed before the erasure is sent afterwards)."""
    w, op, message, token = await start_chat(browser, live_server)
    stored_token = """() => Object.entries(localStorage)
        .filter(([k]) => k.endsWith(':token')).map(([, v]) => v).join()"""
    before = await w.page.evaluate(stored_token)
    assert before
    status, _ = await live_server.call("DELETE", f"/api/v1/visitors/{message['author']['id']}",
                                       token)
    assert status == 200
    await w.page.wait_for_function(
        f"""([before]) => {{ const t = ({stored_token})(); return t && t !== before; }}""",
        arg=[before], timeout=10_000)
    assert await w.messages() == []
    await w.send("a new start")
    got = await recv_until(op, "visitor:message")
    assert got["message"]["seq"] == 1 and got["message"]["author"]["id"] != message["author"]["id"]


async def test_reaction_reaches_operator(browser, live_server):
    w, op, message, _ = await start_chat(browser, live_server)
    reply = await op_request(op, "operator:message", {"chatId": message["chatId"],
                                                      "clientId": uuid.uuid4().hex, "text": "Sure"})
    theirs = w.q("message", '[data-kind="operator"]')
    await w.page.hover(theirs)
    await w.page.click(f"{theirs} {w.q('react')}")
    await w.page.click(w.q("reaction-picker") + " button >> nth=0")
    got = await recv_until(op, "message:reaction")
    assert got["messageId"] == reply["message"]["id"]
    assert list(got["reactions"]) == ["👍"]
    chip = await w.page.wait_for_selector(f"{theirs} {w.q('reaction')}")
    assert (await chip.text_content()).strip() == "👍 1"
    assert await chip.get_attribute("aria-pressed") == "true"


async def test_typing_both_ways(browser, live_server):
    w, op, message, _ = await start_chat(browser, live_server)
    await w.page.fill(w.q("input"), "I have a question about")
    got = await recv_until(op, "visitor:typing", match=lambda d: d.get("preview"))
    assert got == {"chatId": message["chatId"], "typing": True, "preview": "I have a question about"}
    await op.send_json({"type": "operator:typing", "data": {"chatId": message["chatId"], "typing": True}})
    el = await w.page.wait_for_selector(w.q("typing"), state="visible")
    assert "typing" in await el.text_content()
    await op.send_json({"type": "operator:typing", "data": {"chatId": message["chatId"], "typing": False}})
    await w.page.wait_for_selector(w.q("typing"), state="hidden")


async def test_read_receipt(browser, live_server):
    w, op, message, _ = await start_chat(browser, live_server)
    mark = w.q("message", '[data-status="sent"]') + " " + w.q("mark")
    assert await w.page.text_content(mark) == "✓"
    await op_request(op, "operator:read", {"chatId": message["chatId"], "seq": message["seq"]})
    await w.page.wait_for_selector(w.q("message", '[data-status="read"]'))
    assert await w.page.text_content(w.q("mark")) == "✓✓"


async def test_unread_badge_escape_and_visitor_read(browser, live_server):
    w, op, message, _ = await start_chat(browser, live_server)
    await w.page.keyboard.press("Escape")
    await w.page.wait_for_selector(w.q("panel"), state="hidden")
    focused = await w.page.evaluate(
        "document.querySelector('chatiq-widget').shadowRoot.activeElement.dataset.chatiq")
    assert focused == "launcher", "Esc gives focus back to the launcher"
    reply = await op_request(op, "operator:message", {"chatId": message["chatId"],
                                                      "clientId": uuid.uuid4().hex, "text": "Still there?"})
    badge = await w.page.wait_for_selector(w.q("badge"), state="visible")
    assert await badge.text_content() == "1"
    assert "1" in await w.page.get_attribute(w.q("launcher"), "aria-label")
    await w.open()
    read = await recv_until(op, "visitor:read")
    assert read == {"chatId": message["chatId"], "seq": reply["message"]["seq"]}
    await w.page.wait_for_selector(w.q("badge"), state="hidden")


async def test_settings_update_restyles_open_widget(browser, live_server):
    token, site = await setup(live_server, greeting="Welcome!")
    w = await open_page(browser, live_server, site["siteKey"])
    await w.open()
    assert await w.page.text_content(w.q("greeting")) == "Welcome!"
    color = "e => getComputedStyle(e).backgroundColor"
    before = await w.page.eval_on_selector(w.q("launcher"), color)
    status, _ = await live_server.call("PATCH", f"/api/v1/sites/{site['id']}/settings", token,
                                       json={"color": "#ff0000", "greeting": "Hello again"})
    assert status == 200
    await w.page.wait_for_function(
        """() => { const l = document.querySelector('chatiq-widget').shadowRoot
                     .querySelector('[data-chatiq="launcher"]');
                   return getComputedStyle(l).backgroundColor === 'rgb(255, 0, 0)'; }""",
        timeout=5000)
    assert before != "rgb(255, 0, 0)"
    assert await w.page.text_content(w.q("greeting")) == "Hello again"


async def test_hostile_text_is_inert(browser, live_server):
    w, op, message, _ = await start_chat(browser, live_server, text=XSS)
    await op_request(op, "operator:message", {
        "chatId": message["chatId"], "clientId": uuid.uuid4().hex,
        "text": "see javascript:alert(4) and https://example.com/a?b=<img src=x onerror=alert(5)>"})
    theirs = await w.page.wait_for_selector(w.q("message", '[data-kind="operator"]'))
    await w.page.wait_for_timeout(300)
    assert w.dialogs == []
    mine = await w.messages()
    assert mine[0]["text"] == XSS
    assert await w.page.eval_on_selector_all(w.q("log") + " img", "els => els.length") == 0
    links = await theirs.eval_on_selector_all("a", "els => els.map(a => [a.href, a.rel, a.target])")
    assert links == [["https://example.com/a?b=", "noopener noreferrer", "_blank"]]


async def test_long_paste_is_refused_before_sending(browser, live_server):
    _, site = await setup(live_server)
    w = await open_page(browser, live_server, site["siteKey"])
    await w.open()
    refused = await w.page.evaluate("""text => {
        const input = document.querySelector('chatiq-widget').shadowRoot
            .querySelector('[data-chatiq="input"]');
        const data = new DataTransfer();
        data.setData('text/plain', text);
        input.focus();
        return !input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data,
                                                                 bubbles: true, cancelable: true}));
    }""", "x" * 10_001)
    assert refused
    assert "10000" in await w.page.text_content(w.q("notice"))
    assert await w.page.input_value(w.q("input")) == ""


async def test_operator_presence_in_the_header(browser, live_server):
    token, site = await setup(live_server)
    w = await open_page(browser, live_server, site["siteKey"])
    await w.open()
    await w.page.wait_for_selector(w.q("status", '[data-state="away"]'))
    op = await live_server.operator_ws(token)
    await w.page.wait_for_selector(w.q("status", '[data-state="online"]'))
    assert await w.page.text_content(w.q("status")) == "Online"
    await op.close()
    await w.page.wait_for_selector(w.q("status", '[data-state="away"]'))


def tiny_png() -> bytes:
    """A 40x30 green PNG, made here so the test ships no binary."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x1e\xa0\x5a" * 40 for _ in range(30))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40, 30, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_upload_button_follows_the_feature_flag(browser, live_server):
    token, site = await setup(live_server)
    probe = await live_server.visitor_ws(site["siteKey"])
    uploads = probe.session["features"]["uploads"]
    await probe.close()
    op = await live_server.operator_ws(token)
    w = await open_page(browser, live_server, site["siteKey"])
    await w.open()
    assert await w.page.is_visible(w.q("upload")) is (uploads is True)
    if uploads is not True:
        return
    await w.page.set_input_files("chatiq-widget >> input[type=file]", files=[
        {"name": "photo.png", "mimeType": "image/png", "buffer": tiny_png()}])
    got = await recv_until(op, "visitor:message", timeout=10)
    attachment = got["message"]["attachment"]
    assert attachment["name"] == "photo.png" and attachment["mime"] == "image/png"
    link = await w.page.wait_for_selector(w.q("message", '[data-status="sent"]') + " " + w.q("attachment"))
    assert (await link.get_attribute("href")).startswith(live_server.url + "/")
    if attachment["thumbUrl"]:
        loaded = await link.eval_on_selector("img", """i => i.complete ? i.naturalWidth > 0
            : new Promise(done => { i.onload = () => done(true); i.onerror = () => done(false); })""")
        assert loaded, f"thumbnail {attachment['thumbUrl']} did not load"
    else:
        assert "photo.png" in await link.text_content()
    await w.page.set_input_files("chatiq-widget >> input[type=file]", files=[
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"order 42\n" * 100}])
    got = await recv_until(op, "visitor:message", timeout=10)
    assert got["message"]["attachment"]["name"] == "notes.txt"
    card = await w.page.wait_for_selector(w.q("message", '[data-seq="2"]') + " " + w.q("attachment"))
    assert "notes.txt" in await card.text_content() and "900 B" in await card.text_content()


async def test_reconnect_mid_burst_loses_and_duplicates_nothing(browser, live_server):
    """A server restart in the middle of a burst, and an operator reply the widget missed."""
    w, op, message, token = await start_chat(browser, live_server, text="burst 0")
    texts = ["burst 0"]
    for i in range(1, 13):
        texts.append(f"burst {i}")
        await w.send(texts[-1])
        if i == 5:
            await live_server.restart()
            op = await live_server.operator_ws(token)
            await op_request(op, "operator:message", {"chatId": message["chatId"],
                                                      "clientId": uuid.uuid4().hex, "text": "missed?"})
    await w.page.wait_for_function(
        """n => { const r = document.querySelector('chatiq-widget').shadowRoot;
                  const m = [...r.querySelectorAll('[data-chatiq="message"]')];
                  return m.length === n + 1 && m.every(e => e.dataset.kind === 'operator'
                    || e.dataset.status === 'sent' || e.dataset.status === 'read'); }""",
        arg=len(texts), timeout=40_000)
    status, body = await live_server.call("GET", f"/api/v1/chats/{message['chatId']}/messages", token)
    assert status == 200, body
    stored = body["messages"]
    assert sorted(m["text"] for m in stored) == sorted(texts + ["missed?"])
    assert [m["seq"] for m in stored] == list(range(1, len(texts) + 2))
    assert [m["text"] for m in stored if m["author"]["kind"] == "visitor"] == texts, "order kept"
    shown = await w.messages()
    assert [m["seq"] for m in shown] == list(range(1, len(texts) + 2))
    assert [m["text"] for m in shown] == [m["text"] for m in stored]


async def test_second_tab_sees_own_messages_and_chat_close(browser, live_server):
    """Two tabs of one visitor share the token: each shows the other's message once."""
    w, op, message, _ = await start_chat(browser, live_server, text="from tab one")
    tab2 = Widget(await w.page.context.new_page())
    await tab2.page.goto(w.page.url)
    await tab2.open()
    await tab2.page.wait_for_selector(tab2.q("message", '[data-seq="1"]'))
    await tab2.send("from tab two")
    await w.page.wait_for_selector(w.q("message", '[data-seq="2"]'))
    for tab in (w, tab2):
        assert [(m["seq"], m["text"]) for m in await tab.messages()] == [
            (1, "from tab one"), (2, "from tab two")]
    await op_request(op, "chat:close", {"chatId": message["chatId"]})
    note = await w.page.wait_for_selector(w.q("system"))
    assert "closed" in await note.text_content()


async def test_outbox_survives_a_reload_while_the_server_is_down(browser, live_server):
    """A message written offline and a page reload before the server returns: sent once."""
    w, op, message, token = await start_chat(browser, live_server, text="first")
    site_key = await w.page.evaluate("window.chtq.siteKey")
    await live_server.stop()
    await w.page.wait_for_selector(w.q("conn"), state="visible", timeout=10_000)
    tries = len(w.sockets)
    await w.page.wait_for_timeout(4000)
    assert len(w.sockets) - tries <= 5, "reconnects must back off, not flood"
    await w.send("written offline")
    await w.page.wait_for_selector(w.q("message", '[data-status="pending"]'))
    outbox = await w.page.evaluate("Object.keys(localStorage).filter(k => k.endsWith(':outbox'))"
                                   ".map(k => JSON.parse(localStorage[k]))")
    assert [[m["text"] for m in box] for box in outbox] == [["written offline"]]
    await w.page.goto("about:blank")  # leave mid-send; the page comes back with the server
    await live_server.start()
    await w.page.goto(f"{live_server.url}/demo/{site_key}")
    await w.open()
    await w.page.wait_for_function(
        """() => { const r = document.querySelector('chatiq-widget').shadowRoot;
                   const m = [...r.querySelectorAll('[data-chatiq="message"]')];
                   return m.length === 2 && m.every(e => e.dataset.status === 'sent'); }""",
        timeout=40_000)
    status, body = await live_server.call("GET", f"/api/v1/chats/{message['chatId']}/messages", token)
    assert [(m["seq"], m["text"]) for m in body["messages"]] == [(1, "first"), (2, "written offline")]


@pytest.mark.parametrize("language, expect", [
    ("uk", {"open": "Відкрити чат", "placeholder": "Напишіть повідомлення…", "send": "Надіслати"}),
    (None, {"open": "Open chat", "placeholder": "Write a message…", "send": "Send"}),  # <html lang=en>
])
async def test_language(browser, live_server, language, expect):
    _, site = await setup(live_server)
    w = await open_page(browser, live_server, site["siteKey"], language=language)
    launcher = await w.page.wait_for_selector(w.q("launcher"))
    assert await launcher.get_attribute("aria-label") == expect["open"]
    await w.open()
    assert await w.page.get_attribute(w.q("input"), "placeholder") == expect["placeholder"]
    assert await w.page.get_attribute(w.q("send"), "aria-label") == expect["send"]


async def test_legacy_tag_and_no_globals_besides_chtq(browser, live_server):
    """The old `<script src=…/widget.js data-site-id=…>` form, inserted into a bare page."""
    _, site = await setup(live_server)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{live_server.url}/demo")  # no site key: no widget on this page
    before = set(await page.evaluate("Object.keys(window)"))
    await page.evaluate("""key => { const s = document.createElement('script');
        s.src = '/widget.js'; s.dataset.siteId = key; document.body.appendChild(s); }""",
                        site["siteKey"])
    await page.wait_for_selector('[data-chatiq="launcher"]')
    assert set(await page.evaluate("Object.keys(window)")) - before == {"chtq"}
    await context.close()


async def test_wrong_site_key_shows_nothing_and_warns_once(browser, live_server):
    w = await open_page(browser, live_server, "no-such-site")
    await w.page.wait_for_timeout(4000)
    assert await w.page.evaluate("document.querySelector('chatiq-widget')") is None
    assert len(w.warnings) == 1 and "4003" in w.warnings[0], w.warnings
    assert len(w.sockets) == 1, "a refused site key must not reconnect"


async def test_hostile_page_css_and_websocket_shim(browser, live_server):
    """Page CSS that hides or recolours everything, and a WebSocket shim installed later."""
    css = ("div, span, button, textarea, p, a, chatiq-widget { display: none !important;"
           " color: red !important; visibility: hidden !important; opacity: 0 !important; }")
    _, site = await setup(live_server)
    w = await open_page(browser, live_server, site["siteKey"])
    await w.page.wait_for_selector(w.q("launcher"))
    await w.page.add_style_tag(content=css)
    await w.page.evaluate("() => { window.WebSocket = function () { throw new Error('shim'); }; }")
    await w.open()
    await live_server.restart()  # the widget reconnects with the WebSocket it captured
    await w.send("still works")
    await w.page.wait_for_selector(w.q("message", '[data-status="sent"]'), timeout=30_000)
    color = await w.page.eval_on_selector(w.q("message") + " .b", "e => getComputedStyle(e).color")
    assert color != "rgb(255, 0, 0)"
    assert await w.page.is_visible(w.q("input"))


async def test_screenshots(browser, live_server, tmp_path):
    """Light and dark screenshots of an open widget; CHATIQ_SCREENSHOTS=1 writes docs/."""
    out = DOCS if os.environ.get("CHATIQ_SCREENSHOTS") == "1" else tmp_path
    token, site = await setup(live_server, greeting="Hi! Ask us anything.",
                              quickReplies=["Pricing", "Delivery"])
    op = await live_server.operator_ws(token)
    storage = None
    for scheme in ("light", "dark"):
        w = await open_page(browser, live_server, site["siteKey"], scheme=scheme, storage=storage)
        await w.open()
        if storage is None:  # the dark page is the same visitor coming back
            await w.send("Hello! Do you ship to Lviv? https://shop.example/item/42")
            got = await recv_until(op, "visitor:message")
            chat_id = got["message"]["chatId"]
            await op_request(op, "operator:message", {"chatId": chat_id, "clientId": uuid.uuid4().hex,
                                                      "text": "Yes, in 1-2 days 🚚"})
            storage = await w.page.context.storage_state()
        await w.page.wait_for_selector(w.q("message", '[data-kind="operator"]'))
        await op.send_json({"type": "operator:typing", "data": {"chatId": chat_id, "typing": True}})
        await w.page.wait_for_selector(w.q("typing"), state="visible")
        await w.page.screenshot(path=str(out / f"widget-{scheme}.png"))
        await w.page.context.close()
    assert (out / "widget-dark.png").stat().st_size > 1000


async def test_header_never_says_online_while_the_connection_is_lost(browser, live_server):
    """Regression: the header said "● Online" under the banner "Connection lost. Reconnecting…"."""
    token, site = await setup(live_server)
    op = await live_server.operator_ws(token)  # an operator online: the header says "Online"
    w = await open_page(browser, live_server, site["siteKey"])
    await w.open()
    await w.page.wait_for_selector(w.q("status", '[data-state="online"]'))
    await op.close()
    await live_server.stop()
    await w.page.wait_for_selector(w.q("conn"), state="visible", timeout=10_000)
    status = w.page.locator(w.q("status"))
    assert await status.get_attribute("data-state") != "online"
    assert "Online" not in await status.text_content()
    assert await status.text_content() == "Reconnecting…"
    await live_server.start()
    await w.page.wait_for_selector(w.q("conn"), state="hidden", timeout=30_000)
    assert await status.get_attribute("data-state") != "link"



async def test_a_refused_origin_is_named_in_the_console(browser, live_server,
                                                        unused_tcp_port_factory):
    """Regression: on a page whose origin the site does not allow, the widget vanished and
    the console blamed the site key (close 4003) without naming the origin."""
    from aiohttp import web

    token, site = await setup(live_server)
    status, body = await live_server.call("PATCH", f"/api/v1/sites/{site['id']}", token,
                                          json={"allowedOrigins": ["https://shop.example"]})
    assert status == 200, body
    html = (f'<!doctype html><title>shop</title><script>window.chtq={{siteKey:"{site["siteKey"]}"}};'
            f'</script><script async src="{live_server.url}/widget.js"></script>')
    shop = web.Application()
    shop.router.add_get("/", lambda _: web.Response(text=html, content_type="text/html"))
    runner = web.AppRunner(shop)
    await runner.setup()
    port = unused_tcp_port_factory()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        page = await (await browser.new_context()).new_page()
        w = Widget(page)
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.wait_for_function("() => window.chtq && window.chtq._loaded")
        for _ in range(50):
            if w.warnings:
                break
            await page.wait_for_timeout(100)
        assert len(w.warnings) == 1, w.console
        assert f"origin http://127.0.0.1:{port} is not allowed" in w.warnings[0]
        assert "allowed origins" in w.warnings[0] and "site key" in w.warnings[0]
        await page.context.close()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("language,expect", [("uk", "Вітаємо! Чим допомогти?"), ("en", "Hello!")])
async def test_greeting_in_the_visitors_language(browser, live_server, language, expect):
    _, site = await setup(live_server, greetings={"en": "Hello!", "uk": "Вітаємо! Чим допомогти?"},
                          greeting="Hello!")
    w = await open_page(browser, live_server, site["siteKey"], language=language)
    await w.open()
    greeting = await w.page.wait_for_selector(w.q("greeting"), state="visible")
    assert await greeting.text_content() == expect
