"""The application factory: builds (never runs) the aiohttp app for a config."""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import AsyncIterator

import aiohttp_cors
from aiohttp import web

from chatiq import keys

from chatiq.core import protocol, ratelimit
from chatiq.api.common import api_errors
from chatiq.live.bus import Bus
from chatiq.automation import setup_automation
from chatiq.config import Config
from chatiq.core.hub import Hub
from chatiq.core.proxies import see_client
from chatiq.mail.setup import setup_mail
from chatiq.core.metrics import Metrics, observe_batch
from chatiq.outbox import setup_outbox
from chatiq.oidc.pages import setup_oidc
from chatiq.panel import setup_panel
from chatiq.privacy import setup_privacy
from chatiq.core.ratelimit import KeyedLimiter
from chatiq.routes import setup_routes
from chatiq.core.security import new_token
from chatiq.store.db import create_pool
from chatiq.store.login_limits import LoginLimits
from chatiq.store.migrate import migrate
from chatiq.store.writer import MessageWriter
from chatiq.webhooks import setup_webhooks

log = logging.getLogger(__name__)

_BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
# JSON and other non-page answers: nothing may be framed or executed.
_DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: runs as any response's headers go out, so every class gets them
    (pages, JSON, files, static, redirects, 404/405 and aiohttp's own 500 page, which no
    middleware sees). A handler's own stricter values are kept; a CSP of its own that forgot
    frame-ancestors gets it."""
    for name, value in _BASE_HEADERS.items():
        response.headers.setdefault(name, value)
    csp = response.headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
    if "frame-ancestors" not in csp:
        response.headers["Content-Security-Policy"] = csp + "; frame-ancestors 'none'"
    if "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]:
        response.headers.setdefault("X-Frame-Options", "DENY")


@web.middleware
async def forwarded(request: web.Request, handler):
    """Behind a trusted proxy, the client's own address and scheme: every per-IP limit,
    the audit log, the visitor's recorded IP and the Secure cookie read request.remote and
    request.scheme, so they all see the real client (core/proxies.py says whom we trust)."""
    seen = see_client(request.remote, request.headers, request.app[keys.CONFIG].trusted_proxies)
    if seen.remote is None and seen.scheme is None:
        return await handler(request)
    changes = {}
    if seen.remote is not None:
        changes["remote"] = seen.remote
    if seen.scheme is not None:
        changes["scheme"] = seen.scheme
    return await handler(request.clone(**changes))


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    pool = await create_pool(config.database_url, maxsize=config.db_pool_max)
    try:
        applied = await migrate(pool)
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        app[keys.POOL] = pool
        app[keys.LOGIN_LIMITS] = LoginLimits(pool)
        writer = app[keys.WRITER] = MessageWriter(
            pool, node=app[keys.NODE], on_event=app.get(keys.WEBHOOKS),
            observe=functools.partial(observe_batch, app[keys.METRICS]))
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
    app = web.Application(middlewares=[forwarded, api_errors],
                          client_max_size=config.upload_limit_bytes + 64 * 1024)
    app[keys.CONFIG] = config
    app.on_response_prepare.append(security_headers)
    app[keys.HUB] = Hub()
    app[keys.NODE] = new_token(6)
    app[keys.SOCKETS] = weakref.WeakSet()
    app[keys.JOIN_LIMITER] = KeyedLimiter(ratelimit.JOINS_PER_IP)
    app[keys.SIGNUP_LIMITER] = KeyedLimiter(ratelimit.SIGNUPS_PER_IP)
    app[keys.UPLOAD_LIMITER] = KeyedLimiter(ratelimit.UPLOADS_PER_IP)
    app[keys.MESSAGE_LIMITER] = KeyedLimiter(ratelimit.MESSAGES_PER_VISITOR)
    app[keys.METRICS] = Metrics()
    _count_refusals(app)
    app[keys.REFUSED_ORIGIN_LIMITER] = KeyedLimiter(ratelimit.REFUSED_ORIGIN_NOTES)
    app.cleanup_ctx.append(_database)
    setup_automation(app)  # after the pool it uses
    setup_privacy(app)  # the retention job; likewise
    setup_outbox(app)  # likewise; features register their senders before start-up
    setup_webhooks(app)  # registers its sender, so after setup_outbox
    setup_mail(app)  # likewise
    app.on_shutdown.append(_close_sockets)
    setup_routes(app)
    setup_panel(app)
    setup_oidc(app)
    _setup_cors(app)
    return app


# Limit name in chatiq_rate_limit_refusals_total → the app key of its per-process limiter.
_LIMITERS = {"join_ip": keys.JOIN_LIMITER, "signup_ip": keys.SIGNUP_LIMITER,
             "upload_ip": keys.UPLOAD_LIMITER, "message_visitor": keys.MESSAGE_LIMITER,
             "oidc_start_ip": keys.OIDC_START_LIMITER, "transcript_ip": keys.TRANSCRIPT_LIMITER,
             "reset_ip": keys.RESET_IP_LIMITER, "reset_email": keys.RESET_EMAIL_LIMITER}
# The shared failed-login limits (api/auth.login_checks names them).
_LOGIN_LIMITS = ("login_ip", "login_account", "login_account_ip")


def _count_refusals(app: web.Application) -> None:
    """The metrics read each limiter's own count when scraped; features that set theirs up
    later (or not at all) count 0 until then."""
    metrics = app[keys.METRICS]
    for name, key in _LIMITERS.items():
        metrics.count_refusals_of(name, lambda key=key: app[key].refused if key in app else 0)
    for name in _LOGIN_LIMITS:
        metrics.count_refusals_of(name, lambda name=name: (
            app[keys.LOGIN_LIMITS].refused[name] if keys.LOGIN_LIMITS in app else 0))


def _setup_cors(app: web.Application) -> None:
    """The API answers any origin: it authenticates by bearer token, never by cookie."""
    cors = aiohttp_cors.setup(app, defaults={
        "*": aiohttp_cors.ResourceOptions(allow_credentials=False, expose_headers="*",
                                          allow_headers=("Authorization", "Content-Type"),
                                          max_age=3600)})
    for route in list(app.router.routes()):
        if route.resource is not None and route.resource.canonical.startswith("/api/"):
            cors.add(route)
