"""Chats and their messages over REST."""

from __future__ import annotations

from aiohttp import web

from chatiq.api.common import ApiError, pool, query_int, require_user
from chatiq.core.protocol import parse_id
from chatiq.store import chats, sites
from chatiq.core.wire import chat_summary, message_object


async def list_chats(request: web.Request) -> web.Response:
    """GET /api/v1/chats?status=&siteId=&q=&assigned=me|none&limit="""
    user = await require_user(request)
    status = request.query.get("status") or None
    if status not in (None, "open", "closed"):
        raise ApiError("invalid", "'status' must be open or closed", field="status")
    site_id = None
    if request.query.get("siteId"):
        site = await sites.site_for(pool(request), user, parse_id("s", request.query["siteId"]))
        site_id = site.id
    q = (request.query.get("q") or "").strip() or None
    if q is not None and len(q) > 200:
        raise ApiError("invalid", "'q' is longer than 200 characters", field="q")
    assigned = request.query.get("assigned")
    if assigned not in (None, "", "me", "none"):
        raise ApiError("invalid", "'assigned' must be me or none", field="assigned")
    rows = await chats.chats_for(
        pool(request), user, status=status, site_id=site_id, q=q,
        assigned_to=user.id if assigned == "me" else None, unassigned=assigned == "none",
        limit=query_int(request, "limit", 100, minimum=1, maximum=500))
    return web.json_response({"chats": [chat_summary(r) for r in rows]})


async def get_chat(request: web.Request) -> web.Response:
    user = await require_user(request)
    row = await chats.chat_for(pool(request), user, parse_id("c", request.match_info["id"]))
    return web.json_response({"chat": chat_summary(row)})


async def list_messages(request: web.Request) -> web.Response:
    """GET /api/v1/chats/{id}/messages?afterSeq=&limit= (or beforeSeq= to scroll back)."""
    user = await require_user(request)
    row = await chats.chat_for(pool(request), user, parse_id("c", request.match_info["id"]))
    limit = query_int(request, "limit", 500, minimum=1, maximum=1000)
    if request.query.get("beforeSeq"):
        before = query_int(request, "beforeSeq", 0, minimum=1)
        rows = await chats.messages_before(pool(request), row["id"], before, limit)
    else:
        after = query_int(request, "afterSeq", 0)
        rows = await chats.messages_after(pool(request), row["id"], after, limit)
    return web.json_response({"messages": [message_object(m) for m in rows]})
