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
