"""Token buckets for per-connection and per-key rate limits (pure, clock injected)."""

from __future__ import annotations

import time
from collections.abc import Callable

from chatiq.config import RateLimit


class TokenBucket:
    """Allows `burst` events at once and `per_second` sustained."""

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

    def allow(self, key: str) -> bool:
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self._prune()
            bucket = self.buckets[key] = TokenBucket(self.limit, self.clock)
        return bucket.allow()

    def retry_after(self, key: str) -> float:
        bucket = self.buckets.get(key)
        return 0.0 if bucket is None else bucket.retry_after()

    def _prune(self) -> None:
        now = self.clock()
        full = [k for k, b in self.buckets.items()
                if b.tokens + (now - b.stamp) * b.rate >= b.capacity]
        for key in full:
            del self.buckets[key]
        if len(self.buckets) >= self.max_keys:  # still full: drop the oldest half
            for key in list(self.buckets)[: self.max_keys // 2]:
                del self.buckets[key]
