"""Ukrainian everywhere: every panel page and the widget, rendered in uk, show no English
word of the UI — "Visitor #1", "43 s", weekday and month names and "04:21 PM" included."""

from __future__ import annotations

import re

import pytest
from browser_support import chromium
from panel_tour import pages, signed_in

from chatiq.core.resources import resource_path
from chatiq.panel import i18n
from conftest import recv_until

WORD = re.compile(r"[A-Za-z]{3,}")
# English units and clock halves too short to be words: "43 s", "2 min", "04:21 PM".
UNITS = re.compile(r"\b\d+\s?(s|min|h|AM|PM|am|pm)\b")
# Written the same in both languages, or not words at all.
SAME_IN_BOTH = {"chatiq", "email", "smtp", "html", "json", "csv", "txt", "url", "utc", "https",
                "http", "oidc", "openid", "google", "hmac", "sha", "iana", "api", "jwt", "www",
                "example", "shop", "chtq", "passwd"}
# English that Intl or the browser would print for dates and times.
CALENDAR = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday",
            "thursday", "friday", "saturday", "sunday", "jan", "feb", "mar", "apr", "may",
            "jun", "jul", "aug", "sep", "oct", "nov", "dec", "january", "february", "march",
            "april", "june", "july", "august", "september", "october", "november", "december"}
# Text nodes the check reads: what a person sees, minus code samples and what people typed
# into fields (inputs are not text nodes).
VISIBLE_TEXT = """root => {
  const out = [];
  const walk = node => {
    for (const child of node.childNodes) {
      if (child.nodeType === 3) { out.push(child.textContent); continue; }
      if (child.nodeType !== 1) continue;
      if (/^(CODE|PRE|SCRIPT|STYLE|TEXTAREA|SVG)$/i.test(child.tagName)) continue;
      if (child.hidden || getComputedStyle(child).display === 'none') continue;
      if (child.shadowRoot) walk(child.shadowRoot);
      walk(child);
    }
  };
  walk(root);
  for (const el of root.querySelectorAll('[placeholder],[aria-label],[title]'))
    out.push(el.getAttribute('placeholder') || '', el.getAttribute('aria-label') || '', el.getAttribute('title') || '');
  return out.join(' ');
}"""


def english_words() -> set[str]:
    """Words of the English UI (panel and widget) that the Ukrainian UI never uses."""
    def words(texts):
        return {w.lower() for text in texts for w in WORD.findall(re.sub(r"\{[^}]*\}", "", text))}
    widget = resource_path("widget", "widget.js").read_text()
    pairs = re.findall(r"\w+: \['((?:[^'\\]|\\.)*)', '((?:[^'\\]|\\.)*)'\]", widget)
    en = words(list(i18n.EN.values()) + [a for a, _ in pairs])
    uk = words(list(i18n.UK.values()) + [b for _, b in pairs])
    return (en - uk - SAME_IN_BOTH) | CALENDAR | {"visitor"}


def leftovers(text: str, english: set[str]) -> list[str]:
    return sorted({w for w in WORD.findall(text) if w.lower() in english}
                  | {m.group(0) for m in UNITS.finditer(text)})


@pytest.fixture
async def browser(live_server):
    async with chromium() as b:
        yield b


async def test_every_panel_page_in_ukrainian(browser, live_server):
    english = english_words()
    page, _, tour = await signed_in(browser, live_server, "uk", locale="uk-UA")
    found = {}
    for path in pages(signed_in=True):
        await page.goto(live_server.url + tour.url(path))
        if path.startswith("/admin/chats"):
            await page.wait_for_selector("#conn-state[data-state=connected]")
            await page.wait_for_timeout(200)  # the live view fills times and names
        if words := leftovers(await page.evaluate(VISIBLE_TEXT, await page.query_selector("body")), english):
            found[path] = words
    stranger = await (await page.context.browser.new_context(locale="uk-UA")).new_page()
    for path in pages(signed_in=False):
        await stranger.goto(live_server.url + tour.url(path))
        if words := leftovers(await stranger.evaluate(VISIBLE_TEXT, await stranger.query_selector("body")), english):
            found[path] = words
    assert found == {}, "English left in the Ukrainian panel: " + repr(found)


async def test_the_widget_in_ukrainian_with_24_hour_times(browser, live_server):
    english = english_words()
    token, _ = await live_server.register()
    site = await live_server.create_site(token, name="Демо")
    op = await live_server.operator_ws(token)
    # An English-speaking browser on a Ukrainian page: the widget's language decides.
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(f"{live_server.url}/demo/{site['siteKey']}?language=uk")
    await page.click('[data-chatiq="launcher"]')
    await page.fill('[data-chatiq="input"]', "Доброго дня! Чи є доставка?")
    await page.press('[data-chatiq="input"]', "Enter")
    got = await recv_until(op, "visitor:message")
    await live_server.reply(op, got["data"]["message"]["chatId"], "Так, щодня.")
    await page.wait_for_selector('[data-chatiq="message"][data-kind="operator"]')
    root = await page.query_selector("chatiq-widget")
    text = await root.evaluate("h => (" + VISIBLE_TEXT + ")(h.shadowRoot)")
    assert leftovers(text, english) == [], text
    times = await page.evaluate("""() => [...document.querySelector('chatiq-widget').shadowRoot
        .querySelectorAll('time')].map(t => t.textContent)""")
    assert times and all(re.fullmatch(r"\d\d:\d\d", t) for t in times), times
