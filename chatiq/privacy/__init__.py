"""Privacy: transcripts, exports, one visitor's data (GDPR), retention and the audit log.

`setup_privacy(app)` runs the retention job for the app's lifetime; the routes live in
chatiq/routes.py (api.py) and chatiq/panel/routes.py (panel.py).
"""

from __future__ import annotations

from aiohttp import web

from chatiq.privacy.retention import retention_job


def setup_privacy(app: web.Application) -> None:
    """Call after the database's cleanup context (the job needs the pool)."""
    app.cleanup_ctx.append(retention_job)
