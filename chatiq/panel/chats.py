"""The chats page (list + active chat + visitor details) and its scroll-back endpoint.

Live parts run over /ws/operator from chats.js; these views render the first state.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from chatiq import keys
from chatiq.api.common import ApiError, error_response
from chatiq.files.api import handle_upload
from chatiq.core.templates import render as fill_template
from chatiq.panel import i18n
from chatiq.panel.access import require_user
from chatiq.panel.render import render
from chatiq.panel.session import language
from chatiq.panel.useragent import describe
from chatiq.core.protocol import make_id, parse_id
from chatiq.store import accounts, automation, chats, sites
from chatiq.core.wire import chat_summary, message_object

FILTERS = ("open", "mine", "unassigned", "closed", "all")
MAX_QUERY = 200
OLDER_PAGE = 50


def _in_language(summary: dict, lang: str) -> dict:
    """A visitor without a name is "Visitor #N" on the wire; the panel says it in its language."""
    visitor = summary["visitor"]
    if visitor.get("anonymous"):
        visitor["name"] = i18n.translate(lang, "js.visitor_anonymous", n=visitor["id"][2:])
    return summary


def _filter_args(name: str, user_id: int) -> dict:
    return {"open": {"status": "open"},
            "mine": {"status": "open", "assigned_to": user_id},
            "unassigned": {"status": "open", "unassigned": True},
            "closed": {"status": "closed"},
            "all": {}}[name]


async def chats_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    pool = request.app[keys.POOL]
    active = active_row = None
    if "id" in request.match_info:
        # NotFound (another tenant's chat, or no such chat) becomes the same 404 page.
        active_row = await chats.chat_for(pool, user, parse_id("c", request.match_info["id"]))
        active = _in_language(chat_summary(active_row), await language(request))
    name = request.query.get("filter", "open")
    name = name if name in FILTERS else "open"
    q = request.query.get("q", "").strip()[:MAX_QUERY]
    rows = await chats.chats_for(pool, user, q=q or None, limit=200,
                                 **_filter_args(name, user.id))
    query = {"filter": name, **({"q": q} if q else {})}
    lang = await language(request)
    ctx = {
        "chats": [_in_language(chat_summary(r), lang) for r in rows],
        "active": active,
        "filter": name,
        "filters": FILTERS,
        "q": q,
        "list_query": "?" + URL.build(query=query).query_string,
        "user_ref": make_id("u", user.id),
        "js_strings": i18n.js_strings(lang),
        "has_sites": bool(await sites.sites_for(pool, user)),
    }
    if active_row is not None:
        site = await sites.site_for(pool, user, active_row["site_id"])
        allowed = set(await sites.site_user_ids(pool, site))
        ctx.update({
            "site_name": site.name,
            "colleagues": [{"ref": make_id("u", u.id), "name": u.name}
                           for u in await accounts.org_users(pool, user.org_id)
                           if u.id in allowed],
            # Filled here as the REST endpoint fills them: the reply box sends what it shows.
            "templates": [{"shortcut": tpl.shortcut, "title": tpl.title,
                           "text": fill_template(tpl.text, visitor_name=active["visitor"]["name"],
                                                 operator_name=user.name, site_name=site.name)}
                          for tpl in await automation.templates_for(pool, user, site.id)],
            "browser": describe(active_row["user_agent"]),
        })
    return await render(request, "chats.html", ctx)


async def older_messages(request: web.Request) -> web.Response:
    """GET /admin/api/chats/{id}/messages?beforeSeq=&limit= — scrolling back, by cookie."""
    user = await require_user(request)
    pool = request.app[keys.POOL]
    row = await chats.chat_for(pool, user, parse_id("c", request.match_info["id"]))
    before = _int(request, "beforeSeq", row["last_seq"] + 1, 1)
    limit = _int(request, "limit", OLDER_PAGE, 1, 200)
    messages = await chats.messages_before(pool, row["id"], before, limit)
    return web.json_response({"messages": [message_object(m) for m in messages]})


def _int(request: web.Request, name: str, default: int, low: int, high: int = 2**31 - 1) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise web.HTTPBadRequest(
            text=f'{{"error": {{"code": "invalid", "message": "bad {name}", "field": "{name}"}}}}',
            content_type="application/json")
    return int(raw)


async def upload(request: web.Request) -> web.Response:
    """The reply box's attachments: the API's upload, authenticated by the panel's
    session (and its CSRF header, checked by the guard)."""
    user = await require_user(request)
    try:
        return await handle_upload(request, user)
    except ApiError as exc:
        return error_response(exc.code, exc.message, exc.status, exc.field, exc.headers)
