"""A widget refused for its page's origin is said out loud: in the server log and in the
panel's list of recently refused origins, each at most once per origin every few minutes."""

from __future__ import annotations

import logging

from aiohttp import web

from chatiq import keys
from chatiq.core.origins import normalize_origin
from chatiq.store import sites

log = logging.getLogger(__name__)


async def note_refused_origin(app: web.Application, site: sites.Site, origin: str) -> None:
    """Log and record one refusal. Any client can send any Origin header, so both are
    limited per (site, origin) and the stored list is capped per site."""
    shown = normalize_origin(origin) or origin[:200]
    if not app[keys.REFUSED_ORIGIN_LIMITER].allow(f"{site.id} {shown}"):
        return
    log.warning("site %s (%r) refused the widget on a page at %s: that origin is not in the "
                "site's allowed origins; add it in the panel under Sites → %s → Allowed "
                "origins (the list there has a one-click \"Allow\")",
                site.id, site.name, shown, site.name)
    await sites.note_refused_origin(app[keys.POOL], site.id, shown)
