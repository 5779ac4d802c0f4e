"""Typed application state: every value the app shares lives under one of these keys."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

import aiopg
from aiohttp import web

from chatiq.automation.clock import Clock
from chatiq.automation.engine import Automation
from chatiq.config import Config
from chatiq.core.hub import Hub
from chatiq.core.ratelimit import KeyedLimiter
from chatiq.files.storage import BlobStore
from chatiq.live.bus import Bus
from chatiq.core.metrics import Metrics
from chatiq.oidc.provider import Provider
from chatiq.outbox.worker import Worker
from chatiq.store.accounts import User
from chatiq.store.login_limits import LoginLimits
from chatiq.store.writer import MessageWriter
from chatiq.webhooks.events import WebhookEvents

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", aiopg.Pool)
HUB = web.AppKey("hub", Hub)
# Group commit for chat messages (see store/writer.py).
WRITER = web.AppKey("writer", MessageWriter)
# This process's random name among the processes sharing one database.
NODE = web.AppKey("node", str)
# Cross-process fan-out over LISTEN/NOTIFY (see bus.py).
BUS = web.AppKey("bus", Bus)
# Every open WebSocket, so shutdown can close them with 1001.
SOCKETS = web.AppKey("sockets", weakref.WeakSet)
# What strangers may do, per key (thresholds and reasons in ratelimit.py): widget joins per
# IP, sign-ups per IP, visitor uploads per IP and visitor messages per visitor, in this
# process; failed logins in PostgreSQL, shared by every process (store/login_limits.py).
JOIN_LIMITER = web.AppKey("join_limiter", KeyedLimiter)
LOGIN_LIMITS = web.AppKey("login_limits", LoginLimits)
SIGNUP_LIMITER = web.AppKey("signup_limiter", KeyedLimiter)
UPLOAD_LIMITER = web.AppKey("upload_limiter", KeyedLimiter)
MESSAGE_LIMITER = web.AppKey("message_limiter", KeyedLimiter)
# (site id, origin) → when a refused widget origin may be logged and recorded again
REFUSED_ORIGIN_LIMITER = web.AppKey("refused_origin_limiter", KeyedLimiter)
# The automation engine (auto-replies, business hours), if the app has one.
AUTOMATION = web.AppKey("automation", Automation)
# The engine's clock; tests set a ManualClock here before the app starts.
CLOCK = web.AppKey("automation_clock", Clock)
# The OpenID Connect provider operators may sign in with, if one is configured, and
# the per-address limit on starting such sign-ins (see panel/oidc.py).
OIDC = web.AppKey("oidc", Provider)
OIDC_START_LIMITER = web.AppKey("oidc_start_limiter", KeyedLimiter)
# The outbox worker delivering emails and webhook calls (see outbox/).
OUTBOX = web.AppKey("outbox", Worker)
# kind → a factory called at start-up (after the pool exists) that returns the sender.
SENDER_FACTORIES = web.AppKey("outbox_sender_factories", dict)
# Email (see mail/): transcripts visitors ask for per IP, password reset requests per IP
# and per email address asked about.
TRANSCRIPT_LIMITER = web.AppKey("transcript_limiter", KeyedLimiter)
RESET_IP_LIMITER = web.AppKey("reset_ip_limiter", KeyedLimiter)
RESET_EMAIL_LIMITER = web.AppKey("reset_email_limiter", KeyedLimiter)
# The webhook event hook the store calls inside event transactions (see webhooks/).
WEBHOOKS = web.AppKey("webhooks", WebhookEvents)
# The REST routes, as openapi.json describes them (see routes.py).
API_ROUTES = web.AppKey("api_routes", list)
# Set by the operator panel: resolves the panel's session cookie to a user, so the
# panel's live view can open /ws/operator without handing a JWT to JavaScript.
SESSION_AUTH = web.AppKey("session_auth", Callable[[web.Request], Awaitable[User | None]])
# This app's Prometheus metrics (metrics.py), rendered by GET /metrics.
METRICS = web.AppKey("metrics", Metrics)
# Where uploaded files' bytes live (files/storage.py); unset: files in the data dir.
STORAGE = web.AppKey("storage", BlobStore)
# Emails an invitation link: (request, owner, invited user, token, link) → whether it
# was sent. Installed by the mail feature; without it the owner passes the link on.
INVITE_MAILER = web.AppKey("invite_mailer", Callable[..., Awaitable[bool]])
# Visitor frames a feature handles (frame type → handler(connection, data) → ack data),
# beside the socket's own (live/visitor.py): visitor:email is the mail feature's.
VISITOR_FRAMES = web.AppKey("visitor_frames", dict)
