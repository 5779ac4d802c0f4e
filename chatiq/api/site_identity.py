"""A site's identity secret and enforcement over the API: OWNERs only, never operators."""

from __future__ import annotations

from aiohttp import web

from chatiq.api.common import pool, read_json, require_owner, require_user
from chatiq.api.audit import record_request
from chatiq.core.protocol import Bool, iso, make_id, parse_id
from chatiq.store import site_identity, sites
from chatiq.store.accounts import User
from chatiq.store.site_identity import SiteIdentity

IDENTITY_PATCH = {"enforce": Bool(required=True)}

# Audit actions: who changed how a site trusts its visitors, and when.
ROTATED = "site.identity_rotated"
ENFORCEMENT_CHANGED = "site.identity_enforcement_changed"


def identity_object(found: SiteIdentity) -> dict:
    return {"secret": found.secret, "enforce": found.enforce, "rotatedAt": iso(found.rotated_at)}


async def _owned(request: web.Request):
    """The site for its OWNER: another tenant's site is 404, an OPERATOR gets 403."""
    user = await require_user(request)
    site = await sites.site_for(pool(request), user, parse_id("s", request.match_info["id"]))
    require_owner(user)
    return user, site


async def get_identity(request: web.Request) -> web.Response:
    _, site = await _owned(request)
    found = await site_identity.ensure(pool(request), site.id)
    return web.json_response({"identity": identity_object(found)})


async def patch_identity(request: web.Request) -> web.Response:
    user, site = await _owned(request)
    body = await read_json(request, IDENTITY_PATCH)
    found = await change_enforce(request, user, site, body["enforce"])
    return web.json_response({"identity": identity_object(found)})


async def rotate_identity(request: web.Request) -> web.Response:
    user, site = await _owned(request)
    found = await rotate_secret(request, user, site)
    return web.json_response({"identity": identity_object(found)})


async def change_enforce(request: web.Request, user: User, site: sites.Site,
                         enforce: bool) -> SiteIdentity:
    """Set enforcement and log a change (the API and the panel)."""
    before = await site_identity.ensure(pool(request), site.id)
    found = await site_identity.set_enforce(pool(request), site.id, enforce)
    if before.enforce != enforce:
        await record_request(request, ENFORCEMENT_CHANGED, user, target=make_id("s", site.id),
                             details={"from": before.enforce, "to": enforce})
    return found


async def rotate_secret(request: web.Request, user: User,
                        site: sites.Site) -> SiteIdentity:
    """A new secret, logged (the API and the panel)."""
    found = await site_identity.rotate_secret(pool(request), site.id)
    await record_request(request, ROTATED, user, target=make_id("s", site.id))
    return found
