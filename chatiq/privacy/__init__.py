"""Privacy: transcripts, exports, one visitor's data (GDPR), retention and the audit log.

`setup_privacy(app)` runs the retention job for the app's lifetime; its routes (api.py,
pages.py) are in chatiq/routes.py. Importing any part of the package adds its strings to
core/i18n's tables.
"""

from __future__ import annotations

from aiohttp import web

from chatiq.privacy import strings as _strings  # noqa: F401 - registers the texts
from chatiq.privacy.retention import retention_job


def setup_privacy(app: web.Application) -> None:
    """Call after the database's cleanup context (the job needs the pool)."""
    app.cleanup_ctx.append(retention_job)
