"""Typed application state: every value the app shares lives under one of these keys."""

from __future__ import annotations

import weakref

import aiopg
from aiohttp import web

from chatiq.config import Config
from chatiq.hub import Hub
from chatiq.ratelimit import KeyedLimiter

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", aiopg.Pool)
HUB = web.AppKey("hub", Hub)
# Every open WebSocket, so shutdown can close them with 1001.
SOCKETS = web.AppKey("sockets", weakref.WeakSet)
# Per-IP limit on widget joins and per-IP/per-account limits on logins.
JOIN_LIMITER = web.AppKey("join_limiter", KeyedLimiter)
LOGIN_LIMITER = web.AppKey("login_limiter", KeyedLimiter)
# The automation engine (auto-replies, business hours), if the app has one.
AUTOMATION = web.AppKey("automation", object)
