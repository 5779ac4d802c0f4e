"""Sites CRUD and their widget settings."""

from __future__ import annotations

import re

from aiohttp import web

from chatiq.core import fanout

from chatiq import keys
from chatiq.api.common import ApiError, pool, read_json, require_owner, require_user
from chatiq.core.origins import normalize_origin, origin_from_domain, origins_from_domain
from chatiq.api.audit import record_request
from chatiq.core.protocol import Bool, List, Obj, Str, make_id, parse_id
from chatiq.core.security import new_token
from chatiq.store import audit, sites
from chatiq.core.wire import settings_object, site_object

SITE_CREATE = {"name": Str(required=True, max_len=100, min_len=1, strip=True),
               "domain": Str(max_len=253, strip=True),
               "allowedOrigins": List(Str(max_len=300), max_items=50)}
SITE_PATCH = {"name": Str(max_len=100, min_len=1, strip=True),
              "domain": Str(max_len=253, strip=True),
              "allowedOrigins": List(Str(max_len=300), max_items=50),
              "enabled": Bool()}

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
SETTINGS = {"color": Str(max_len=7), "secondaryColor": Str(max_len=7),
            "position": Str(choices={"left", "right"}),
            "size": Str(choices={"compact", "standard", "large"}),
            "greeting": Str(max_len=500),
            "greetings": Obj({"en": Str(max_len=500, strip=True), "uk": Str(max_len=500, strip=True)}),
            "agentName": Str(max_len=100),
            "agentAvatarUrl": Str(max_len=2048),
            "quickReplies": List(Str(max_len=100, min_len=1), max_items=10),
            "showBranding": Bool()}


def clean_origins(values: list[str]) -> list[str]:
    out = []
    for i, value in enumerate(values):
        origin = normalize_origin(value)
        if origin is None:
            raise ApiError("invalid", f"'{value[:100]}' is not an origin like https://shop.example",
                           field=f"allowedOrigins[{i}]")
        if origin not in out:
            out.append(origin)
    return out


def clean_domain(domain: str | None) -> str | None:
    if not domain:
        return None
    if origin_from_domain(domain) is None:
        raise ApiError("invalid", "domain is not a valid host name", field="domain")
    return domain.lower()


async def list_sites(request: web.Request) -> web.Response:
    user = await require_user(request)
    found = await sites.sites_for(pool(request), user)
    return web.json_response({"sites": [site_object(s) for s in found]})


async def create_site(request: web.Request) -> web.Response:
    user = await require_user(request)
    require_owner(user)
    body = await read_json(request, SITE_CREATE)
    site = await new_site(request.app, user, body["name"], clean_domain(body.get("domain")),
                          clean_origins(body.get("allowedOrigins", [])))
    await record_request(request, audit.SITE_CREATED, user, target=make_id("s", site.id),
                         details={"name": site.name})
    return web.json_response({"site": site_object(site)}, status=201)


async def new_site(app: web.Application, user, name: str, domain: str | None,
                   origins: list[str]) -> sites.Site:
    """Create a site (a domain seeds the allowed origins) and show it to open sockets."""
    if domain and not origins:
        origins = origins_from_domain(domain)
    site = await sites.create_site(app[keys.POOL], org_id=user.org_id, name=name, domain=domain,
                                   allowed_origins=origins, site_key=new_token(18))
    await share_site(app, site)
    return site


async def share_site(app: web.Application, site) -> None:
    """Open operator connections of everyone who may work on the site see it now."""
    app[keys.HUB].set_site_access(site.id, await sites.site_user_ids(app[keys.POOL], site))


async def _site(request: web.Request):
    user = await require_user(request)
    site = await sites.site_for(pool(request), user, parse_id("s", request.match_info["id"]))
    return user, site


async def get_site(request: web.Request) -> web.Response:
    _, site = await _site(request)
    return web.json_response({"site": site_object(site)})


async def patch_site(request: web.Request) -> web.Response:
    user, site = await _site(request)
    require_owner(user)
    body = await read_json(request, SITE_PATCH)
    changes = {}
    for key in ("name", "enabled"):
        if key in body:
            changes[key] = body[key]
    if "domain" in body:
        changes["domain"] = clean_domain(body["domain"])
    if "allowedOrigins" in body:
        changes["allowed_origins"] = clean_origins(body["allowedOrigins"])
    site = await sites.update_site(pool(request), site.id, changes)
    return web.json_response({"site": site_object(site)})


async def delete_site(request: web.Request) -> web.Response:
    user, site = await _site(request)
    require_owner(user)
    await sites.delete_site(pool(request), site.id)
    await record_request(request, audit.SITE_DELETED, user, target=make_id("s", site.id),
                         details={"name": site.name})
    return web.Response(status=204)


async def get_settings(request: web.Request) -> web.Response:
    _, site = await _site(request)
    stored = await sites.widget_settings(pool(request), site.id)
    return web.json_response({"settings": settings_object(stored)})


def clean_settings(body: dict) -> dict:
    for key in ("color", "secondaryColor"):
        if key in body and not _COLOR.match(body[key]):
            raise ApiError("invalid", f"'{key}' must be a color like #4f46e5", field=key)
    url = body.get("agentAvatarUrl")
    if url and not (url.startswith("https://") or url.startswith("http://") or url.startswith("/")):
        raise ApiError("invalid", "'agentAvatarUrl' must be an http(s) URL", field="agentAvatarUrl")
    return body


async def patch_settings(request: web.Request) -> web.Response:
    """Save widget settings and push them at once to every open widget of the site."""
    user, site = await _site(request)
    require_owner(user)
    changes = clean_settings(await read_json(request, SETTINGS))
    stored = await sites.save_widget_settings(pool(request), site.id, changes)
    settings = settings_object(stored)
    fanout.settings_changed(request.app[keys.HUB], site.id, settings)
    return web.json_response({"settings": settings})
