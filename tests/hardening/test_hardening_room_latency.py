"""Hardening (issue 9): a room's delivery latency with and without a member that stopped reading.

A real `chatiq serve` process; one visitor and three operators of its site form the room, and a
fourth operator stops reading. The visitor sends 8 KB messages one at a time; latency is from
the send until the last healthy operator has the event. The figures are printed (they go into
docs/security.md), not asserted: what is asserted is that every healthy member gets every
message, in order, and the stalled one is cut off rather than sent everything.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import uuid

import aiohttp
from aiohttp import WSMsgType

from crash_support import ServerProcess

HEALTHY = 3
WARM_UP = 50
MESSAGES = 300
# Enough to fill the stalled socket's kernel buffers (a few MB on loopback) and then its
# outbox (Config.send_queue_limit = 1024 frames), so the server cuts it off mid-phase.
STALLED_MESSAGES = 2500
TEXT = "x" * 8000


class Member:
    """An operator socket that notes when each visitor message arrived."""

    def __init__(self, ws):
        self.ws = ws
        self.arrivals: dict[str, float] = {}  # clientId → loop time it arrived
        self.seqs: list[int] = []
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        loop = asyncio.get_running_loop()
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["type"] == "visitor:message":
                message = frame["data"]["message"]
                self.arrivals[message["clientId"]] = loop.time()
                self.seqs.append(message["seq"])


async def _operator(session, url: str, token: str):
    ws = await session.ws_connect(url + "/ws/operator", max_msg_size=0)
    await ws.send_json({"type": "auth", "data": {"token": token}})
    while json.loads((await ws.receive(timeout=10)).data)["type"] != "operator:ready":
        pass
    return ws


async def _phase(visitor, members: list[Member], count: int) -> list[float]:
    loop = asyncio.get_running_loop()
    latencies = []
    for _ in range(count):
        cid = uuid.uuid4().hex
        started = loop.time()
        await visitor.send_json({"type": "visitor:message", "data": {"clientId": cid,
                                                                      "text": TEXT}})
        while not all(cid in m.arrivals for m in members):
            await asyncio.sleep(0.0005)
            assert loop.time() - started < 10, "a healthy member stopped receiving"
        latencies.append(max(m.arrivals[cid] for m in members) - started)
    return latencies


def _summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"p50 {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, max {ms[-1]:.2f} ms"


async def test_a_stalled_member_does_not_slow_the_room(database_url, tmp_path,
                                                       unused_tcp_port_factory):
    server = ServerProcess(unused_tcp_port_factory(), tmp_path / "data", database_url)
    server.start()
    try:
        async with aiohttp.ClientSession() as session:
            await server.healthy(session)
            async with session.post(server.url + "/api/v1/auth/register", json={
                    "email": "room@example.com", "password": "correct horse 1", "name": "Room",
                    "organization": "Room Ltd"}) as resp:
                token = (await resp.json())["token"]
            async with session.post(server.url + "/api/v1/sites", json={"name": "Shop"},
                                    headers={"Authorization": f"Bearer {token}"}) as resp:
                site_key = (await resp.json())["site"]["siteKey"]
            visitor = await session.ws_connect(server.url + "/ws/widget")
            await visitor.send_json({"type": "visitor:join", "data": {"siteKey": site_key}})
            members = [Member(await _operator(session, server.url, token))
                       for _ in range(HEALTHY)]
            stalled_ws = await _operator(session, server.url, token)
            stalled = Member(stalled_ws)

            # The same three are timed in both phases; the fourth reads normally at first.
            await _phase(visitor, members, WARM_UP)  # caches, prepared statements
            baseline = await _phase(visitor, members, MESSAGES)
            stalled_ws._response.connection.transport.pause_reading()
            with_stall = await _phase(visitor, members, STALLED_MESSAGES)
            # Reading again: the stalled member gets what the buffers held, then the close.
            stalled_ws._response.connection.transport.resume_reading()
            await asyncio.wait_for(stalled.task, 30)
            sent = WARM_UP + MESSAGES + STALLED_MESSAGES

            print(f"\nroom of {HEALTHY} healthy operators + 1 visitor, messages of {len(TEXT)} B"
                  " sent one at a time, send → last healthy operator has it:")
            print(f"  nobody stalled ({MESSAGES} messages):     {_summary(baseline)}")
            print(f"  one member stalled ({STALLED_MESSAGES} messages): {_summary(with_stall)}")
            print(f"  the stalled member got {len(stalled.arrivals)} of {sent}, then close code"
                  f" {stalled_ws.close_code}")
            for m in members:
                assert m.seqs == list(range(1, sent + 1))  # all, in order
            assert len(stalled.arrivals) < sent and stalled_ws.close_code in (1013, 1006, None)
            for m in members:
                m.task.cancel()
    finally:
        server.stop()
