"""GET /metrics (issue 16): Prometheus' text format behind a bearer token, parsed with
prometheus_client's own parser."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatiq import keys
from chatiq.app import create_app
from chatiq.config import RateLimit
from chatiq.core.ratelimit import LOGIN_FAILURES_PER_ACCOUNT_AND_IP
from chatiq.core.metrics import observe_batch
from conftest import ChatHelper, request

TOKEN = "scrape-" + "s" * 32


@pytest.fixture
async def metered(aiohttp_client, config):
    app = create_app(dataclasses.replace(config, metrics_token=TOKEN))
    client = await aiohttp_client(app)
    return app, ChatHelper(client.session, str(client.make_url("/")))


async def scrape(chat: ChatHelper, token: str | None = TOKEN) -> dict[tuple, float]:
    """{(sample name, sorted labels): value}, every family named chatiq_*."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with chat.session.get(chat.base + "/metrics", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "text/plain"
        text = await resp.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("chatiq_"), family.name
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_no_token_configured_is_404(chat):
    status, _ = await chat.call("GET", "/metrics", headers={"Authorization": "Bearer x"})
    assert status == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer",
                                    f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"])
async def test_a_wrong_or_missing_token_is_401(metered, header):
    _, chat = metered
    headers = {"Authorization": header} if header else {}
    async with chat.session.get(chat.base + "/metrics", headers=headers) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert "chatiq_" not in await resp.text()


async def test_exposition_parses_and_reports_the_live_state(metered, sql):
    app, chat = metered
    token, user = await chat.register()
    site = await chat.create_site(token)
    visitor = await chat.visitor_ws(site["siteKey"])
    operator = await chat.operator_ws(token)
    for _ in range(int(LOGIN_FAILURES_PER_ACCOUNT_AND_IP.burst) + 2):
        await chat.call("POST", "/api/v1/auth/login",
                        json={"email": user["email"], "password": "wrong-wrong"})
    org = sql("SELECT org_id FROM users")[0][0]
    sql("INSERT INTO outbox (org_id, kind, dedupe_key, payload, status) VALUES"
        " (%s, 'email', 'a', '{}', 'pending'), (%s, 'email', 'b', '{}', 'pending'),"
        " (%s, 'email', 'c', '{}', 'failed'), (%s, 'email', 'd', '{}', 'sent')",
        (org, org, org, org))
    observe_batch(app[keys.METRICS], 3, 0.004, Counter(visitor=2, operator=1))

    got = await scrape(chat)
    assert got[("chatiq_connections", (("kind", "visitor"),))] == 1
    assert got[("chatiq_connections", (("kind", "operator"),))] == 1
    assert got[("chatiq_rate_limit_refusals_total", (("limit", "login_account_ip"),))] == 2
    assert got[("chatiq_rate_limit_refusals_total", (("limit", "join_ip"),))] == 0
    assert got[("chatiq_outbox_jobs_pending", ())] == 2
    assert got[("chatiq_outbox_jobs_failed", ())] == 1
    assert got[("chatiq_db_pool_connections", ())] >= 1
    assert 0 <= got[("chatiq_db_pool_connections_in_use", ())] <= got[
        ("chatiq_db_pool_connections", ())]
    assert got[("chatiq_process_resident_memory_bytes", ())] > 1_000_000
    assert got[("chatiq_messages_stored_total", (("author_kind", "visitor"),))] == 2
    assert got[("chatiq_messages_stored_total", (("author_kind", "operator"),))] == 1
    assert got[("chatiq_writer_batch_size_count", ())] == 1
    assert got[("chatiq_writer_batch_size_sum", ())] == 3
    assert got[("chatiq_store_latency_seconds_bucket", (("le", "0.005"),))] == 1

    await visitor.close()
    await operator.close()
    got = await scrape(chat)
    assert got[("chatiq_connections", (("kind", "visitor"),))] == 0


async def test_frame_refusals_are_counted_per_kind(aiohttp_client, config):
    app = create_app(dataclasses.replace(config, metrics_token=TOKEN,
                                         visitor_rate=RateLimit(2, 0.001)))
    client = await aiohttp_client(app)
    chat = ChatHelper(client.session, str(client.make_url("/")))
    token, _ = await chat.register()
    site = await chat.create_site(token)
    visitor = await chat.visitor_ws(site["siteKey"])  # the join spent one of two
    replies = [await request(visitor, "visitor:typing", {"typing": True}) for _ in range(3)]
    refused = sum(1 for r in replies if r["type"] == "error"
                  and r["data"]["code"] == "rate_limited")
    got = await scrape(chat)
    assert refused >= 1
    assert got[("chatiq_rate_limit_refusals_total", (("limit", "frames_visitor"),))] == refused


async def test_apps_do_not_share_counters(aiohttp_client, config):
    first = create_app(dataclasses.replace(config, metrics_token=TOKEN))
    second = create_app(dataclasses.replace(config, metrics_token=TOKEN))
    observe_batch(first[keys.METRICS], 5, 0.01, {"visitor": 5})
    client = await aiohttp_client(second)
    got = await scrape(ChatHelper(client.session, str(client.make_url("/"))))
    assert ("chatiq_messages_stored_total", (("author_kind", "visitor"),)) not in got
    observe_batch(None, 1, 0.1, {"visitor": 1})  # a writer built without metrics: no-op


async def test_message_counter_grows_by_the_messages_sent(metered):
    _, chat = metered
    token, _ = await chat.register()
    site = await chat.create_site(token)
    visitor = await chat.visitor_ws(site["siteKey"])
    key = ("chatiq_messages_stored_total", (("author_kind", "visitor"),))
    before = (await scrape(chat)).get(key, 0)
    first = await chat.say(visitor, "m0")
    for n in range(1, 7):
        await chat.say(visitor, f"m{n}")
    operator = await chat.operator_ws(token)
    await chat.reply(operator, first["chatId"], "hi")
    got = await scrape(chat)
    assert got[key] - before == 7
    assert got[("chatiq_messages_stored_total", (("author_kind", "operator"),))] == 1
