"""Failed-login limits as token buckets in PostgreSQL: every process on one database counts
the same failures, so more processes never mean more guesses.

One transaction per login attempt (a bcrypt check costs far more); the buckets' rows are
locked in key order, so concurrent guesses queue and exactly `burst` of them get through.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chatiq.core.ratelimit import RateLimit
from chatiq.store import db

# A bucket untouched this long is full again (the slowest refills in ~8 h) and is dropped.
FORGET_AFTER_SECONDS = 24 * 3600
# Rows dropped per attempt at most, so one login never pays for a big cleanup.
PRUNE_BATCH = 100


# Bucket key prefixes: every address, every account, and one account at one address
# ('login-account-ip:<address> <email>': an address never holds a space).
IP_KEY = "login-ip:"
ACCOUNT_KEY = "login-account:"
ACCOUNT_IP_KEY = "login-account-ip:"


@dataclass(frozen=True)
class Check:
    """One limit on an attempt: its name (for metrics), its bucket's key and its rate."""

    name: str
    key: str
    limit: RateLimit


class LoginLimits:
    """The shared buckets; `clock` (seconds since the epoch) is moved by tests."""

    def __init__(self, pool, clock: Callable[[], float] = time.time):
        self.pool = pool
        self.clock = clock
        # limit name → attempts this process refused (chatiq_rate_limit_refusals_total).
        self.refused: Counter[str] = Counter()

    async def take(self, checks: Sequence[Check]) -> float:
        """Spend one attempt from every bucket, or from none if any is empty.
        0 when the attempt may go ahead, else the seconds until it may."""
        now = self.clock()
        by_key = {c.key: c for c in checks}
        order = sorted(by_key)
        async with db.transaction(self.pool) as cur:
            await cur.execute(
                "INSERT INTO login_buckets (key, tokens, stamp)"
                " SELECT k, c, %(now)s FROM unnest(%(keys)s::text[], %(caps)s::float8[]) AS t(k, c)"
                " ORDER BY k ON CONFLICT (key) DO NOTHING",
                {"now": now, "keys": order,
                 "caps": [float(by_key[k].limit.burst) for k in order]})
            await cur.execute(
                "SELECT key, tokens, stamp FROM login_buckets WHERE key = ANY(%(keys)s)"
                " ORDER BY key FOR UPDATE", {"keys": order})
            rows = await cur.fetchall()
            left = {r["key"]: _refilled(by_key[r["key"]].limit, r["tokens"], now - r["stamp"])
                    for r in rows}
            empty = [k for k, tokens in left.items() if tokens < 1]
            if empty:
                for key in empty:
                    self.refused[by_key[key].name] += 1
                return max((1 - left[k]) / by_key[k].limit.per_second for k in empty)
            await cur.execute(
                "UPDATE login_buckets b SET tokens = t.tokens, stamp = %(now)s"
                " FROM unnest(%(keys)s::text[], %(tokens)s::float8[]) AS t(key, tokens)"
                " WHERE b.key = t.key",
                {"now": now, "keys": order, "tokens": [left[k] - 1 for k in order]})
        await self._prune(now)
        return 0.0

    async def give_back(self, checks: Sequence[Check]) -> None:
        """Return an attempt that succeeded: only failures count."""
        order = sorted({c.key: c for c in checks}.items())
        await db.fetchall(
            self.pool,
            "UPDATE login_buckets b SET tokens = least(t.cap, b.tokens + 1)"
            " FROM unnest(%(keys)s::text[], %(caps)s::float8[]) AS t(key, cap)"
            " WHERE b.key = t.key RETURNING b.key",
            {"keys": [k for k, _ in order], "caps": [float(c.limit.burst) for _, c in order]})

    async def _prune(self, now: float) -> None:
        # SKIP LOCKED: a bucket someone is using right now is not old; never wait for it.
        await db.fetchall(
            self.pool,
            "DELETE FROM login_buckets WHERE key IN (SELECT key FROM login_buckets"
            " WHERE stamp < %(old)s LIMIT %(n)s FOR UPDATE SKIP LOCKED) RETURNING key",
            {"old": now - FORGET_AFTER_SECONDS, "n": PRUNE_BATCH})


async def forget_account(pool, email: str) -> None:
    """Lift an account's lockouts (`chatiq passwd`: its owner has just set a password)."""
    await db.fetchall(
        pool, "DELETE FROM login_buckets WHERE key = %(account)s"
              " OR (starts_with(key, %(prefix)s) AND right(key, %(n)s) = %(suffix)s)"
              " RETURNING key",
        {"account": ACCOUNT_KEY + email, "prefix": ACCOUNT_IP_KEY, "suffix": " " + email,
         "n": len(email) + 1})


def _refilled(limit: RateLimit, tokens: float, elapsed: float) -> float:
    # A clock that went backwards (another machine's) refills nothing rather than draining.
    return min(float(limit.burst), tokens + max(0.0, elapsed) * limit.per_second)
