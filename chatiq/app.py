"""The application factory: builds (never runs) the aiohttp app for a config."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator

import aiohttp_cors
from aiohttp import web

from chatiq import keys, protocol
from chatiq.api.common import api_errors
from chatiq.bus import Bus
from chatiq.automation import setup_automation
from chatiq.config import Config, RateLimit
from chatiq.hub import Hub
from chatiq.panel import setup_panel
from chatiq.ratelimit import KeyedLimiter
from chatiq.routes import setup_routes
from chatiq.security import new_token
from chatiq.store.db import create_pool
from chatiq.store.migrate import migrate
from chatiq.store.writer import MessageWriter

log = logging.getLogger(__name__)

_BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
# JSON and other non-page answers: nothing may be framed or executed.
_DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"


@web.middleware
async def security_headers(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _stamp(response)
        raise
    _stamp(response)
    return response


def _stamp(response: web.StreamResponse) -> None:
    if response.prepared:  # WebSockets and streamed bodies already sent their headers
        return
    for name, value in _BASE_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
    if "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]:
        response.headers.setdefault("X-Frame-Options", "DENY")


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    pool = await create_pool(config.database_url, maxsize=config.db_pool_max)
    try:
        applied = await migrate(pool)
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        app[keys.POOL] = pool
        writer = app[keys.WRITER] = MessageWriter(pool, node=app[keys.NODE])
        writer.start()
        bus = app[keys.BUS] = Bus(app[keys.HUB], pool, config.database_url, app[keys.NODE])
        await bus.start()
        try:
            yield
        finally:
            await bus.stop()
            await writer.stop()
    finally:
        pool.close()
        try:
            # A connection still checked out (a query cut off by the shutdown) would
            # keep wait_closed() waiting forever.
            await asyncio.wait_for(pool.wait_closed(), 5.0)
        except asyncio.TimeoutError:
            log.warning("database connections still busy at shutdown; closing them")
            pool.terminate()


async def _close_sockets(app: web.Application) -> None:
    """On shutdown: tell every client at once that we are going away (1001).

    Each close waits for the peer's reply, so they run together and a peer that
    never answers costs at most two seconds; clients reconnect and resume by seq.
    """
    async def close(ws: web.WebSocketResponse) -> None:
        try:
            await asyncio.wait_for(
                ws.close(code=protocol.CLOSE_GOING_AWAY, message=b"server shutting down"), 2.0)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            pass

    await asyncio.gather(*(close(ws) for ws in list(app[keys.SOCKETS])))


def create_app(config: Config) -> web.Application:
    if not config.database_url:
        raise ValueError("create_app needs config.database_url (the CLI starts PostgreSQL)")
    app = web.Application(middlewares=[security_headers, api_errors],
                          client_max_size=config.upload_limit_bytes + 64 * 1024)
    app[keys.CONFIG] = config
    app[keys.HUB] = Hub()
    app[keys.NODE] = new_token(6)
    app[keys.SOCKETS] = weakref.WeakSet()
    app[keys.JOIN_LIMITER] = KeyedLimiter(RateLimit(burst=30, per_second=1))
    app[keys.LOGIN_LIMITER] = KeyedLimiter(RateLimit(burst=10, per_second=0.1))
    app.cleanup_ctx.append(_database)
    setup_automation(app)  # after the pool it uses
    app.on_shutdown.append(_close_sockets)
    setup_routes(app)
    setup_panel(app)
    _setup_cors(app)
    return app


def _setup_cors(app: web.Application) -> None:
    """The API answers any origin: it authenticates by bearer token, never by cookie."""
    cors = aiohttp_cors.setup(app, defaults={
        "*": aiohttp_cors.ResourceOptions(allow_credentials=False, expose_headers="*",
                                          allow_headers=("Authorization", "Content-Type"),
                                          max_age=3600)})
    for route in list(app.router.routes()):
        if route.resource is not None and route.resource.canonical.startswith("/api/"):
            cors.add(route)
