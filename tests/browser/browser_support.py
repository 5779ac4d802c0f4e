"""Debian's chromium driven by Playwright, shared by the browser tests; skips, saying why,
where either is missing (never `playwright install`: no browser downloads here)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DOCS = Path(__file__).resolve().parents[2] / "docs"


@contextlib.asynccontextmanager
async def chromium():
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright not installed: pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not installed at {CHROMIUM}: apt-get install chromium")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class Console:
    """Collects what a page complains about: CSP violations, script errors, dialogs."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", lambda m: m.type in ("error", "warning")
                and self.problems.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        page.on("dialog", self._dialog)

    async def _dialog(self, dialog):
        self.problems.append(f"dialog: {dialog.message}")
        await dialog.dismiss()


async def logged_in_page(browser, server, email: str, password: str = "correct horse 1", *,
                         width: int = 1400, height: int = 860, locale: str = "en-GB", **context):
    """A fresh browser context signed in to the panel through its form, on /admin/chats."""
    ctx = await browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                    **context)
    page = await ctx.new_page()
    console = Console(page)
    await page.goto(server.url + "/admin/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/admin/chats")
    await page.wait_for_selector("#conn-state[data-state=connected]")
    return page, console


def png(width: int, height: int, color=(90, 140, 200)) -> bytes:
    """A plain PNG of the given size (Pillow is a dependency of the server already)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


async def operator_upload(server, token: str, chat_id: str, name: str, data: bytes,
                          mime: str = "image/png") -> dict:
    """Upload a file as an operator (chatId before the file, as the server reads it)."""
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("chatId", chat_id)
    form.add_field("file", data, filename=name, content_type=mime)
    status, body = await server.call("POST", "/api/v1/uploads", token, data=form)
    assert status in (200, 201), body
    return body["attachment"]
