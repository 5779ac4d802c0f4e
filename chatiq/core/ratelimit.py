"""Token buckets for per-connection and per-key rate limits (pure, clock injected), and the
limits on what a stranger can do (docs/security.md lists them).

These buckets are per process: with N processes behind a balancer a client that is spread
over all of them gets up to N times as much. Failed logins are the exception: their buckets
live in PostgreSQL (store/login_limits.py) and every process shares them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `burst` frames at once, refilled at `per_second`."""

    burst: float
    per_second: float


# Widget joins per IP address. A page load is one join, a reconnect another; 30 at once
# covers an office behind one NAT opening the site together.
JOINS_PER_IP = RateLimit(burst=30, per_second=1)
# visitor:message per visitor, across all their tabs and sockets (one socket alone is held to
# Config.visitor_rate): a visitor cannot multiply their rate by opening connections.
MESSAGES_PER_VISITOR = RateLimit(burst=60, per_second=10)
# Visitor uploads per IP address, counted before the credentials are checked. Each can be
# 10 MiB: 20 at once, then one every 15 s, keeps a stranger under ~2.4 GB an hour.
UPLOADS_PER_IP = RateLimit(burst=20, per_second=1 / 15)
# Failed logins, counted in PostgreSQL so every process on one database shares them
# (store/login_limits.py). Per account *and* address: 10, then one per 90 s (40 an hour) —
# the lockout; while it lasts that address gets 429 even with the right password, on the
# API and the panel alike, but the account's owner at another address is not locked out.
# Per account from all addresses together: a slow, high ceiling against guessing spread
# over many addresses (100, then 12 an hour): a stranger at one address cannot reach it
# (their own lockout stops them at 10). Per address: 30, then one per 30 s, so spraying
# many accounts from one address is slow too.
LOGIN_FAILURES_PER_ACCOUNT_AND_IP = RateLimit(burst=10, per_second=1 / 90)
LOGIN_FAILURES_PER_ACCOUNT = RateLimit(burst=100, per_second=1 / 300)
LOGIN_FAILURES_PER_IP = RateLimit(burst=30, per_second=1 / 30)
# New organizations per IP address, API and panel together: 10, then one every 6 minutes.
SIGNUPS_PER_IP = RateLimit(burst=10, per_second=1 / 360)
# Refused widget origins, per (site, origin): logged and recorded once, then once every
# 5 minutes — a busy page on a forgotten domain must not flood the log or the database.
REFUSED_ORIGIN_NOTES = RateLimit(burst=1, per_second=1 / 300)


def whole_seconds(wait: float) -> int:
    """A wait as Retry-After / retryAfter say it: whole seconds, at least 1."""
    return max(1, math.ceil(wait))


class TokenBucket:
    """Allows `burst` events at once and `per_second` sustained."""

    __slots__ = ("capacity", "rate", "tokens", "clock", "stamp")  # one per socket

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic):
        self.capacity = float(limit.burst)
        self.rate = float(limit.per_second)
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()

    def allow(self, cost: float = 1.0) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def retry_after(self, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens are there again."""
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate


class KeyedLimiter:
    """One bucket per key (an IP, an account), forgotten once full again."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.limit = limit
        self.clock = clock
        self.max_keys = max_keys
        self.buckets: dict[str, TokenBucket] = {}  # key → its bucket
        # Attempts refused so far (chatiq_rate_limit_refusals_total reads it).
        self.refused = 0

    def allow(self, key: str) -> bool:
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self._prune()
            bucket = self.buckets[key] = TokenBucket(self.limit, self.clock)
        if bucket.allow():
            return True
        self.refused += 1
        return False

    def retry_after(self, key: str) -> float:
        bucket = self.buckets.get(key)
        return 0.0 if bucket is None else bucket.retry_after()

    def refund(self, key: str) -> None:
        """Give back one event (an attempt that turned out not to count)."""
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(bucket.capacity, bucket.tokens + 1)

    def wait(self, key: str) -> float:
        """Seconds until `key` may try again (0: now), spending nothing."""
        bucket = self.buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(bucket.capacity,
                     bucket.tokens + (bucket.clock() - bucket.stamp) * bucket.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / bucket.rate

    def _prune(self) -> None:
        now = self.clock()
        full = [k for k, b in self.buckets.items()
                if b.tokens + (now - b.stamp) * b.rate >= b.capacity]
        for key in full:
            del self.buckets[key]
        if len(self.buckets) >= self.max_keys:  # still full: drop the oldest half
            for key in list(self.buckets)[: self.max_keys // 2]:
                del self.buckets[key]
