"""Failed-login limits in PostgreSQL (issue 16): shared by every process on one database,
locked per (account, address), with a slow per-account ceiling for distributed guessing."""

from __future__ import annotations

import asyncio
import dataclasses

from chatiq import keys
from chatiq.app import create_app
from chatiq.config import RateLimit
from chatiq.core.proxies import parse_trusted
from chatiq.core.ratelimit import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ACCOUNT_AND_IP
from chatiq.store.db import create_pool
from chatiq.store.login_limits import FORGET_AFTER_SECONDS, Check, LoginLimits
from conftest import ChatHelper

PASSWORD = "correct horse 1"


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _login(chat: ChatHelper, email: str, password: str, ip: str | None = None) -> int:
    headers = {"X-Forwarded-For": ip} if ip else {}
    status, _ = await chat.call("POST", "/api/v1/auth/login", headers=headers,
                                json={"email": email, "password": password})
    return status


async def test_two_workers_share_the_failed_login_count(aiohttp_client, config):
    """Two apps on one database stand for two `--workers` processes: before, each kept
    its own count and together they allowed twice the guesses."""
    one = await aiohttp_client(create_app(config))
    two = await aiohttp_client(create_app(config))
    first = ChatHelper(one.session, str(one.make_url("/")))
    second = ChatHelper(two.session, str(two.make_url("/")))
    await first.register(email="shared@example.com", password=PASSWORD)
    burst = int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst)
    for n in range(burst):
        assert await _login((first, second)[n % 2], "shared@example.com", "guess-guess") == 401
    assert await _login(first, "shared@example.com", PASSWORD) == 429
    assert await _login(second, "shared@example.com", PASSWORD) == 429


async def test_account_ceiling_stops_guessing_spread_over_many_addresses(aiohttp_client, config):
    app = create_app(dataclasses.replace(config, trusted_proxies=parse_trusted("127.0.0.1")))
    client = await aiohttp_client(app)
    clock = app[keys.LOGIN_LIMITS].clock = Clock()
    chat = ChatHelper(client.session, str(client.make_url("/")))
    await chat.register(email="popular@example.com", password=PASSWORD)
    per_address = int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst)
    addresses = int(LOGIN_FAILURES_PER_ACCOUNT.burst) // per_address
    for a in range(addresses):
        for _ in range(per_address):
            assert await _login(chat, "popular@example.com", "guess", f"203.0.113.{a}") == 401
    # The ceiling is reached: a fresh address is refused too, until it refills a little.
    assert await _login(chat, "popular@example.com", PASSWORD, "198.51.100.1") == 429
    clock.now += 1 / LOGIN_FAILURES_PER_ACCOUNT.per_second
    assert await _login(chat, "popular@example.com", PASSWORD, "198.51.100.1") == 200
    assert app[keys.LOGIN_LIMITS].refused["login_account"] == 1


async def _limits(database_url) -> LoginLimits:
    return LoginLimits(await create_pool(database_url, maxsize=20), Clock())


async def test_concurrent_takes_on_one_bucket_let_exactly_burst_through(database_url):
    limits = await _limits(database_url)
    try:
        check = [Check("t", "k", RateLimit(burst=7, per_second=0.001))]
        waits = await asyncio.gather(*(limits.take(check) for _ in range(30)))
        assert waits.count(0.0) == 7 and all(w > 0 for w in waits if w)
        assert limits.refused["t"] == 23
    finally:
        limits.pool.close()
        await limits.pool.wait_closed()


async def test_all_or_nothing_refill_and_give_back(database_url, sql):
    limits = await _limits(database_url)
    try:
        roomy = Check("roomy", "a", RateLimit(burst=5, per_second=1))
        tight = Check("tight", "b", RateLimit(burst=1, per_second=0.5))
        assert await limits.take([roomy, tight]) == 0
        # `tight` is empty: nothing is spent from `roomy` either, and the wait is tight's.
        assert await limits.take([roomy, tight]) == 2.0
        assert sql("SELECT key, tokens FROM login_buckets ORDER BY key") == [("a", 4.0), ("b", 0.0)]
        await limits.give_back([roomy, tight])
        assert sql("SELECT key, tokens FROM login_buckets ORDER BY key") == [("a", 5.0), ("b", 1.0)]
        await limits.give_back([roomy])  # never above the burst
        assert sql("SELECT tokens FROM login_buckets WHERE key = 'a'") == [(5.0,)]
        assert await limits.take([tight]) == 0
        limits.clock.now += 1.0  # half a token back
        assert await limits.take([tight]) == 1.0
        limits.clock.now -= 100  # a clock that went backwards drains nothing and adds nothing
        assert await limits.take([tight]) > 0
    finally:
        limits.pool.close()
        await limits.pool.wait_closed()


async def test_buckets_untouched_for_a_day_are_forgotten(database_url, sql):
    limits = await _limits(database_url)
    try:
        limit = RateLimit(burst=3, per_second=1)
        for n in range(5):
            await limits.take([Check("x", f"old{n}", limit)])
        limits.clock.now += FORGET_AFTER_SECONDS + 1
        await limits.take([Check("x", "new", limit)])
        assert sql("SELECT key FROM login_buckets") == [("new",)]
    finally:
        limits.pool.close()
        await limits.pool.wait_closed()
