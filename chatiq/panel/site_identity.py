"""The identity section of a site's settings page: enforce on/off and rotating the secret.

Both are OWNER-only POSTs behind the panel's CSRF guard, audited like the API's; the page
itself shows the secret (settings.py asks `site_identity.ensure`, so a site gets one on first
view).
"""

from __future__ import annotations

from aiohttp import web

from chatiq.api.site_identity import change_enforce, rotate_secret
from chatiq.panel.render import set_flash
from chatiq.panel.sites import owned_site


async def _back(request: web.Request, flash: str) -> web.HTTPFound:
    await set_flash(request, flash)
    return web.HTTPFound(f"/admin/sites/{request.match_info['id']}/settings#identity")


async def save_enforce(request: web.Request) -> web.Response:
    user, site = await owned_site(request)
    form = await request.post()
    await change_enforce(request, user, site, form.get("enforce") == "on")
    raise await _back(request, "identity.saved")


async def rotate(request: web.Request) -> web.Response:
    user, site = await owned_site(request)
    await rotate_secret(request, user, site)
    raise await _back(request, "identity.rotated")
