"""/healthz: 200 only when the database answers and every migration is applied."""

from __future__ import annotations

import asyncio

from aiohttp import web

from chatiq import keys
from chatiq.store.migrate import is_migrated


async def healthz(request: web.Request) -> web.Response:
    try:
        ok = await asyncio.wait_for(is_migrated(request.app[keys.POOL]), 3.0)
    except (asyncio.TimeoutError, Exception):
        ok = False
    if not ok:
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})
