"""The bus on its own (live/bus.py): another process's batch NOTIFY reaches this process's
peers, chats it made are announced first, our own and malformed payloads are ignored, and a
lost LISTEN connection replays what was stored meanwhile without doubles."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from chatiq.core.hub import Hub, Peer
from chatiq.live.bus import Bus
from chatiq.store.writer import MessageWriter, Post


@pytest.fixture
def visitor(sql):
    org = sql("INSERT INTO organizations (name) VALUES ('o') RETURNING id")[0][0]
    site = sql("INSERT INTO sites (org_id, name, site_key) VALUES (%s, 's', %s) RETURNING id",
               (org, os.urandom(8).hex()))[0][0]
    return site, sql("INSERT INTO visitors (site_id, token_hash) VALUES (%s, %s) RETURNING id",
                     (site, os.urandom(16)))[0][0]


@pytest.fixture
async def here(pool, database_url):
    """This process: a hub with one operator of site 1.., and its bus."""
    hub = Hub()
    bus = Bus(hub, pool, database_url, "here")
    await bus.start()
    await asyncio.wait_for(bus.connected.wait(), 10)
    yield hub, bus
    await bus.stop()


@pytest.fixture
async def elsewhere(pool):
    """Another process's writer (its NOTIFYs name another node)."""
    writer = MessageWriter(pool, node="elsewhere", lanes=1)
    writer.start()
    yield writer
    await writer.stop(grace=1.0)


def operator(hub: Hub, site: int) -> Peer:
    p = Peer("operator", limit=1000, wake=lambda: None, on_overflow=lambda: None)
    hub.add_operator(p, user_id=1, site_ids=[site])
    return p


async def frames(p: Peer, count: int, timeout: float = 5.0) -> list[dict]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(p.outbox) < count and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return [json.loads(t) for t in p.outbox]


async def test_another_process_batch_reaches_peers_here_chat_first(here, elsewhere, visitor):
    hub, _ = here
    site, v = visitor
    op = operator(hub, site)
    await asyncio.gather(*(elsewhere.post(Post("visitor", v, f"m{n}", reopen=True))
                           for n in range(3)))
    got = await frames(op, 4)
    assert [f["type"] for f in got] == ["chat:new"] + ["visitor:message"] * 3
    assert [f["data"]["message"]["seq"] for f in got[1:]] == [1, 2, 3]


async def test_own_and_malformed_payloads_are_ignored(here, pool, visitor):
    hub, bus = here
    site, _ = visitor
    op = operator(hub, site)
    await bus._on_notify("not json")
    await bus._on_notify(json.dumps({"n": "here", "m": [[1, 1]]}))
    assert op.outbox == []


async def test_a_lost_listen_connection_replays_what_was_missed_once(here, elsewhere, visitor,
                                                                   sql):
    hub, bus = here
    site, v = visitor
    op = operator(hub, site)
    first = await elsewhere.post(Post("visitor", v, "before", reopen=True))
    await frames(op, 2)
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'chatiq-listen-here'")
    await elsewhere.post(Post("visitor", v, "while cut", chat_id=first.message["chat_id"]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while bus.replays == 0 and loop.time() < deadline:
        await asyncio.sleep(0.05)
    got = await frames(op, 3)
    seqs = [f["data"]["message"]["seq"] for f in got if f["type"] == "visitor:message"]
    assert bus.replays >= 1 and seqs == [1, 2]  # the missed one came, nothing twice


async def test_a_large_event_is_relayed_by_id_and_a_lone_process_relays_nothing(
        here, pool, database_url, sql, caplog):
    """Regression: a 9,000-character message made a lone process log 'not relaying a
    10054-byte site_operators event: too large for NOTIFY' although nobody listened."""
    hub, bus = here
    other_hub = Hub()
    other = Bus(other_hub, pool, database_url, "other")
    await other.start()
    try:
        await asyncio.wait_for(other.connected.wait(), 10)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not (bus._nodes_seen and other._nodes_seen) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        op = operator(other_hub, 5)
        big = "x" * 9000
        hub.to_site_operators(5, json.dumps({"type": "chat:updated", "data": {"t": big}}))
        got = await frames(op, 1)
        assert got and got[0]["data"]["t"] == big
        assert sql("SELECT count(*) FROM bus_stash")[0][0] == 1
    finally:
        await other.stop()
    # Alone again (the other said bye): nothing is relayed, nothing is logged.
    bus._started -= 60
    bus._nodes_seen.clear()
    before = sql("SELECT count(*) FROM bus_stash")[0][0]
    with caplog.at_level("WARNING"):
        hub.to_site_operators(5, json.dumps({"t": "y" * 9000}))
        await asyncio.sleep(0.2)
    assert sql("SELECT count(*) FROM bus_stash")[0][0] == before
    assert "too large" not in caplog.text and "could not relay" not in caplog.text
