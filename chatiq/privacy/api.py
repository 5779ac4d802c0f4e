"""The privacy part of /api/v1: transcripts, exports, one visitor's data, retention, audit."""

from __future__ import annotations

from aiohttp import web

from chatiq.api.common import ApiError, pool, query_int, read_json, require_owner, require_user
from chatiq.privacy import gdpr
from chatiq.privacy.export import stream_export
from chatiq.privacy.transcripts import stream_transcript, transcript_format
from chatiq.core.protocol import Int, iso, make_id, parse_id
from chatiq.store import audit, sites
from chatiq.store import retention as retention_store

MAX_RETENTION_DAYS = 36500
# Omitted or null: keep forever.
RETENTION = {"retentionDays": Int(minimum=1, maximum=MAX_RETENTION_DAYS)}
AUDIT_PAGE = 50


async def transcript(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/chats/{id}/transcript?format=txt|html|json"""
    user = await require_user(request)
    fmt = transcript_format(request.query.get("format"))
    if fmt is None:
        raise ApiError("invalid", "'format' must be txt, html or json", field="format")
    return await stream_transcript(request, user, request.match_info["id"], fmt)


async def export(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/export?from=&to=&siteId=&tz=&format=jsonl|csv"""
    return await stream_export(request, await require_user(request))


async def visitor_export(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    require_owner(user)
    return await gdpr.stream_visitor_export(request, user, request.match_info["id"])


async def visitor_erase(request: web.Request) -> web.Response:
    user = await require_user(request)
    require_owner(user)
    ref, erased = await gdpr.erase_visitor(request.app, user, request.match_info["id"],
                                           request.remote)
    return web.json_response({"erased": {"visitorId": ref, "chats": erased.chats,
                                         "messages": erased.messages,
                                         "attachments": erased.attachments}})


async def _site(request: web.Request):
    user = await require_user(request)
    site = await sites.site_for(pool(request), user, parse_id("s", request.match_info["id"]))
    return user, site


async def get_retention(request: web.Request) -> web.Response:
    _, site = await _site(request)
    days = await retention_store.retention_days(pool(request), site.id)
    return web.json_response({"retentionDays": days})


async def put_retention(request: web.Request) -> web.Response:
    user, site = await _site(request)
    require_owner(user)
    days = (await read_json(request, RETENTION)).get("retentionDays")
    await change_retention(pool(request), user, site, days, request.remote)
    return web.json_response({"retentionDays": days})


async def change_retention(db_pool, user, site, days: int | None, ip: str | None) -> None:
    """Store a site's retention period and log the change (API and panel)."""
    before = await retention_store.set_retention_days(db_pool, site.id, days)
    if before != days:
        await audit.record(db_pool, audit.RETENTION_CHANGED, org_id=user.org_id, actor=user,
                           ip=ip, target=make_id("s", site.id),
                           details={"from": before, "to": days})


def audit_action(raw: str | None) -> str | None:
    """The `action` filter: None for all, else a well-formed action name."""
    if not raw:
        return None
    if len(raw) > audit.MAX_ACTION or not audit.ACTION_NAME.match(raw):
        raise ApiError("invalid", "'action' is not an action name like auth.login",
                       field="action")
    return raw


def entry_object(entry: audit.Entry) -> dict:
    return {"id": make_id("al", entry.id), "action": entry.action,
            "actor": None if entry.actor_id is None and entry.actor_email is None else
            {"id": make_id("u", entry.actor_id), "email": entry.actor_email},
            "target": entry.target, "ip": entry.ip, "details": entry.details,
            "createdAt": iso(entry.created_at)}


async def audit_log(request: web.Request) -> web.Response:
    """GET /api/v1/audit?action=&before=&limit= — newest first (OWNER)."""
    user = await require_user(request)
    require_owner(user)
    action = audit_action(request.query.get("action"))
    before = None
    if request.query.get("before"):
        before = parse_id("al", request.query["before"])
        if before is None:
            raise ApiError("invalid", "'before' must be an entry id like al_42", field="before")
    limit = query_int(request, "limit", AUDIT_PAGE, minimum=1, maximum=500)
    found = await audit.entries(pool(request), user.org_id, action=action, before_id=before,
                                limit=limit + 1)  # one more says whether a next page exists
    page = found[:limit]
    return web.json_response({"entries": [entry_object(e) for e in page],
                              "next": make_id("al", page[-1].id) if len(found) > limit else None})
