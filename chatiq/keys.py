"""Typed application state: every value the app shares lives under one of these keys."""

from __future__ import annotations

import weakref

import aiopg
from aiohttp import web

from chatiq.config import Config
from chatiq.hub import Hub
from chatiq.ratelimit import KeyedLimiter
from chatiq.store.writer import MessageWriter

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", aiopg.Pool)
HUB = web.AppKey("hub", Hub)
# Group commit for chat messages (see store/writer.py).
WRITER = web.AppKey("writer", MessageWriter)
# This process's random name among the processes sharing one database.
NODE = web.AppKey("node", str)
# Cross-process fan-out over LISTEN/NOTIFY (see bus.py).
BUS = web.AppKey("bus", object)
# Every open WebSocket, so shutdown can close them with 1001.
SOCKETS = web.AppKey("sockets", weakref.WeakSet)
# Per-IP limit on widget joins and per-IP/per-account limits on logins.
JOIN_LIMITER = web.AppKey("join_limiter", KeyedLimiter)
LOGIN_LIMITER = web.AppKey("login_limiter", KeyedLimiter)
# The automation engine (auto-replies, business hours), if the app has one.
AUTOMATION = web.AppKey("automation", object)
