"""Panel pages for privacy: transcript downloads, a visitor's data, retention, the audit log.

Same rules as the API: anyone who may see a chat downloads its transcript; only OWNERs
export or erase a visitor, change retention or read the audit log; another
organization's ids are not found.
"""

from __future__ import annotations

import json

from aiohttp import web

from chatiq import keys
from chatiq.panel import i18n
from chatiq.panel.access import require_owner, require_user
from chatiq.panel.render import render, set_flash, take_flash
from chatiq.panel.session import language
from chatiq.panel.sites import owned_site
from chatiq.panel.useragent import describe
from chatiq.privacy import gdpr
from chatiq.privacy.api import MAX_RETENTION_DAYS, change_retention
from chatiq.privacy.transcripts import stream_transcript, transcript_format
from chatiq.core.protocol import make_id, parse_id
from chatiq.store import audit, sites, visitor_data
from chatiq.core.wire import settings_object

AUDIT_PAGE = 50


async def transcript(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    fmt = transcript_format(request.query.get("format"))
    if fmt is None:
        raise web.HTTPNotFound()
    return await stream_transcript(request, user, request.match_info["id"], fmt)


async def visitor_page(request: web.Request, *, error: dict | None = None,
                       status: int = 200) -> web.Response:
    user = await require_owner(request)
    pool = request.app[keys.POOL]
    visitor = await gdpr.find_visitor(pool, user, request.match_info["id"])
    chats = await visitor_data.visitor_chats(pool, visitor["id"])
    files = await visitor_data.visitor_attachments(pool, visitor["id"])
    return await render(request, "visitor.html", {
        "v": gdpr.visitor_object(visitor), "browser": describe(visitor["user_agent"]),
        "chats": [{"ref": make_id("c", c["id"]), "status": c["status"],
                   "created": c["created_at"].isoformat()}
                  for c in chats],
        "files": len(files), "error": error}, status=status)


async def visitor_export(request: web.Request) -> web.StreamResponse:
    user = await require_owner(request)
    return await gdpr.stream_visitor_export(request, user, request.match_info["id"])


async def visitor_erase(request: web.Request) -> web.Response:
    user = await require_owner(request)
    form = await request.post()
    if form.get("confirm") != "on":
        text = i18n.translate(await language(request), "privacy.erase_unconfirmed")
        return await visitor_page(request, error={"field": "confirm", "text": text}, status=422)
    await gdpr.erase_visitor(request.app, user, request.match_info["id"], request.remote)
    await set_flash(request, "privacy.erased")
    raise web.HTTPFound("/admin/audit")


def parse_days(raw: str) -> int | None:
    """The retention form's value: days, or None for "keep forever"; ValueError if neither."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_RETENTION_DAYS:
        raise ValueError(raw)
    return int(raw)


async def retention_save(request: web.Request) -> web.Response:
    user, site = await owned_site(request)
    raw = str((await request.post()).get("retention_days", ""))
    try:
        days = parse_days(raw)
    except ValueError:
        stored = await sites.widget_settings(request.app[keys.POOL], site.id)
        text = i18n.translate(await language(request), "form.invalid.retentionDays")
        return await render(request, "site_settings.html", {
            "site": site, "s": settings_object(stored), "retention_days": raw[:20],
            "retention_error": {"field": "retention_days", "text": text}}, status=422)
    await change_retention(request.app[keys.POOL], user, site, days, request.remote)
    await set_flash(request, "privacy.retention_saved")
    raise web.HTTPFound(f"/admin/sites/{make_id('s', site.id)}/settings")


async def audit_page(request: web.Request) -> web.Response:
    user = await require_owner(request)
    pool = request.app[keys.POOL]
    lang = await language(request)
    actions = await audit.actions_used(pool, user.org_id)
    action = request.query.get("action") or None
    if action is not None and action not in actions:
        action = None  # an action nobody did, or a made-up one: show everything
    before = parse_id("al", request.query.get("before"))
    found = await audit.entries(pool, user.org_id, action=action, before_id=before,
                                limit=AUDIT_PAGE + 1)
    page = found[:AUDIT_PAGE]
    older = None
    if len(found) > AUDIT_PAGE:
        older = {"before": make_id("al", page[-1].id), **({"action": action} if action else {})}
    return await render(request, "audit.html", {
        "entries": [{"when": e.created_at.isoformat(), "who": e.actor_email or "—",
                     "action": e.action, "label": action_label(lang, e.action),
                     "target": e.target or "", "ip": e.ip or "",
                     "details": json.dumps(e.details, ensure_ascii=False) if e.details else ""}
                    for e in page],
        "actions": [(a, action_label(lang, a)) for a in actions], "action": action,
        "older": older, "paged": before is not None, "flash": await take_flash(request)})


def action_label(lang: str, action: str) -> str:
    """The action's name in the user's language; the raw name for one we have no words for."""
    key = "audit.action." + action
    return i18n.translate(lang, key) if i18n.known(key) else action
