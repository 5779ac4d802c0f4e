"""Placeholders for the sections another issue builds, so the navigation never dead-ends."""

from __future__ import annotations

from aiohttp import web

from chatiq.panel.access import require_user
from chatiq.panel.render import render


async def coming_soon(request: web.Request) -> web.Response:
    await require_user(request)
    return await render(request, "soon.html", {"section": request.match_info.route.name
                                               .removeprefix("panel_")})
