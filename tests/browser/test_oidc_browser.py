"""Signing in to the panel through an OpenID Connect provider, in a real browser.

The provider is the tests' own (tests/oidc_provider.py) on another localhost port,
showing a page with a Continue button as a real one would.
"""

from __future__ import annotations

import pytest
from browser_support import chromium

from oidc_provider import idp  # noqa: F401  (fixture)


@pytest.fixture
def config(config, idp):
    idp.auto_approve = False
    return idp.configure(config)


@pytest.fixture
async def page(live_server):
    async with chromium() as browser:
        context = await browser.new_context(locale="en-GB")
        page = await context.new_page()
        page.problems = []
        # "Failed to load resource" names no URL: failed answers are recorded with theirs.
        page.on("console", lambda m: m.type in ("error", "warning")
                and not m.text.startswith("Failed to load resource")
                and page.problems.append(f"{m.type}: {m.text}"))
        page.on("response", lambda r: r.status >= 400
                and page.problems.append(f"{r.status}: {r.url}"))
        page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
        yield page


async def test_an_operator_signs_in_through_the_provider(page, live_server, idp, sql):
    await live_server.register(email="olena@example.com")
    await page.goto(live_server.url + "/admin/login?next=/admin/sites")
    await page.get_by_role("link", name="Sign in with Local ID").click()
    await page.wait_for_url(idp.issuer + "/authorize?**")
    assert "olena@example.com" in await page.text_content("body")
    await page.click("#continue")
    await page.wait_for_url(live_server.url + "/admin/sites")
    await page.goto(live_server.url + "/admin/chats")
    await page.wait_for_selector("#conn-state[data-state=connected]")  # the live socket too
    assert sql("SELECT subject FROM user_identities") == [("1001",)]
    assert [p for p in page.problems if not p.endswith("/favicon.ico")] == []


async def test_a_stranger_sees_why_they_were_not_let_in(page, live_server, idp, sql):
    await live_server.register(email="olena@example.com")
    idp.account.update(sub="3003", email="stranger@example.com")
    await page.goto(live_server.url + "/admin/login")
    await page.get_by_role("link", name="Sign in with Local ID").click()
    await page.click("#continue")
    await page.wait_for_url(live_server.url + "/admin/oidc/callback?**")
    alert = page.get_by_role("alert")
    assert "Ask an owner of your organization to invite you" in await alert.text_content()
    await page.get_by_role("link", name="Back to log in").click()
    await page.wait_for_url(live_server.url + "/admin/login")
    assert sql("SELECT count(*) FROM users") == [(1,)]
