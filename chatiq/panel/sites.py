"""Sites: create, rename, enable/disable, allowed origins, embed snippet, their operators."""

from __future__ import annotations

import json

from aiohttp import web

from chatiq import keys
from chatiq.api.common import ApiError
from chatiq.api.sites import SITE_CREATE, SITE_PATCH, clean_domain, clean_origins, new_site, share_site
from chatiq.panel.access import require_owner, require_user
from chatiq.panel.forms import form_error
from chatiq.panel.render import render
from chatiq.panel.starters import give_starters
from chatiq.core.origins import normalize_origin
from chatiq.api.audit import record_request
from chatiq.core.protocol import ProtocolError, clean_fields, make_id, parse_id
from chatiq.store import accounts, audit, sites
from chatiq.store.db import NotFound


def own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def snippet(origin: str, site_key: str) -> str:
    return (f"<script>window.chtq={{siteKey:{json.dumps(site_key)}}};</script>"
            f'<script async src="{origin}/widget.js"></script>')


async def sites_page(request: web.Request, *, error: dict | None = None,
                     form: dict | None = None, status: int = 200) -> web.Response:
    user = await require_user(request)
    pool = request.app[keys.POOL]
    found = await sites.sites_for(pool, user)
    operators, assigned = [], {}
    if user.is_owner:
        operators = [{"id": u.id, "ref": make_id("u", u.id), "name": u.name, "email": u.email}
                     for u in await accounts.org_users(pool, user.org_id) if not u.is_owner]
        assigned = await sites.site_operator_map(pool, user.org_id)
    origin = own_origin(request)
    refused: dict[int, list] = {}
    if user.is_owner:
        for row in await sites.refused_origins(pool, [s.id for s in found]):
            refused.setdefault(row.site_id, []).append(row)
    views = [{"ref": make_id("s", s.id), "name": s.name, "domain": s.domain,
              "site_key": s.site_key, "enabled": s.enabled,
              "allowed_origins": s.allowed_origins, "snippet": snippet(origin, s.site_key),
              "operator_ids": assigned.get(s.id, set()),
              "refused": refused.get(s.id, [])[:10]} for s in found]
    return await render(request, "sites.html", {"sites": views, "operators": operators,
                                                "error": error, "form": form or {}},
                        status=status)


async def create_site(request: web.Request) -> web.Response:
    user = await require_owner(request)
    form = await request.post()
    values = {"name": str(form.get("name", "")), "domain": str(form.get("domain", ""))}
    try:
        body = clean_fields(SITE_CREATE, values)
        domain = clean_domain(body.get("domain"))
    except (ApiError, ProtocolError) as exc:
        return await sites_page(request, error=await form_error(request, exc, "create"),
                                form=values, status=422)
    site = await new_site(request.app, user, body["name"], domain, [])
    await give_starters(request.app, site)
    await record_request(request, audit.SITE_CREATED, user, target=make_id("s", site.id),
                         details={"name": site.name})
    raise web.HTTPFound(f"/admin/sites#site-{make_id('s', site.id)}")


async def owned_site(request: web.Request):
    """(user, site) for an OWNER of the site's organization; 404 for anyone else's site."""
    user = await require_user(request)
    site = await sites.site_for(request.app[keys.POOL], user,
                                parse_id("s", request.match_info["id"]))
    if not user.is_owner:
        raise web.HTTPForbidden()
    return user, site


async def update_site(request: web.Request) -> web.Response:
    _, site = await owned_site(request)
    form = await request.post()
    origins = [line.strip() for line in str(form.get("allowed_origins", "")).splitlines()
               if line.strip()]
    values = {"name": str(form.get("name", "")), "domain": str(form.get("domain", "")),
              "allowedOrigins": origins, "enabled": form.get("enabled") == "on"}
    try:
        body = clean_fields(SITE_PATCH, values)
        changes = {"name": body["name"], "enabled": body["enabled"],
                   "domain": clean_domain(body.get("domain")),
                   "allowed_origins": clean_origins(body.get("allowedOrigins", []))}
    except (ApiError, ProtocolError) as exc:
        return await sites_page(request, error=await form_error(
            request, exc, make_id("s", site.id)), status=422)
    await sites.update_site(request.app[keys.POOL], site.id, changes)
    raise web.HTTPFound(f"/admin/sites#site-{make_id('s', site.id)}")


async def set_operators(request: web.Request) -> web.Response:
    user, site = await owned_site(request)
    pool = request.app[keys.POOL]
    form = await request.post()
    colleagues = {u.id for u in await accounts.org_users(pool, user.org_id)}
    chosen = []
    for ref in form.getall("operator", []):
        uid = parse_id("u", ref)
        if uid not in colleagues:
            raise NotFound("user not found")
        chosen.append(uid)
    await sites.set_site_operators(pool, site.id, sorted(set(chosen)))
    await share_site(request.app, site)
    raise web.HTTPFound(f"/admin/sites#site-{make_id('s', site.id)}")


async def allow_origin(request: web.Request) -> web.Response:
    """One click from "recently refused": the origin joins the site's allowed origins."""
    _, site = await owned_site(request)
    origin = normalize_origin(str((await request.post()).get("origin", "")))
    if origin is None:
        raise web.HTTPBadRequest(text="not an origin")
    await sites.allow_origin(request.app[keys.POOL], site.id, origin)
    raise web.HTTPFound(f"/admin/sites#site-{make_id('s', site.id)}")
