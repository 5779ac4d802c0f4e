"""The docs describe the panel that exists: every page is listed, none as "coming soon"."""

from __future__ import annotations

import re
from pathlib import Path

from chatiq.routes import PANEL_ROUTES

DOCS = Path(__file__).resolve().parents[1] / "docs"
# Not pages a person opens: JSON, downloads, sign-in redirects.
NOT_PAGES = re.compile(r"^/admin/(api/|oidc/)|/(transcript|export)$|\.csv$|^/admin$")


def test_panel_md_lists_every_page_and_promises_nothing():
    """Regression: docs/panel.md still called Automation, Templates, Hours and Analytics
    "coming soon" long after they shipped."""
    text = (DOCS / "panel.md").read_text()
    assert "coming soon" not in text.lower()
    pages = {path for method, path, *_ in PANEL_ROUTES
             if method == "GET" and not NOT_PAGES.search(path)}
    missing = sorted(p for p in pages if f"`{p}`" not in text and f"`{p}," not in text)
    assert missing == [], f"docs/panel.md does not list {missing}"
