"""Durable operator→visitor round trips against a running `chatiq serve`.

Each round trip: the operator sends `operator:message`, the server commits it, the
visitor receives `admin:message`; we time send → visitor receipt (and → operator ack).

    CHATIQ_RATE_LIMITS=off chatiq serve --port 8765 --data-dir /tmp/cqb &
    python -m bench.roundtrip --url http://127.0.0.1:8765 --count 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import aiohttp


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def wait_for(ws, ftype: str, ref: str | None = None) -> dict:
    while True:
        msg = await ws.receive(timeout=10)
        frame = json.loads(msg.data)
        if frame["type"] == ftype and (ref is None or frame.get("ref") == ref):
            return frame


async def main(url: str, count: int) -> dict:
    async with aiohttp.ClientSession() as http:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        async with http.post(url + "/api/v1/auth/register", json={
                "email": email, "password": "bench password", "name": "Bench",
                "organization": "Bench"}) as resp:
            token = (await resp.json())["token"]
        async with http.post(url + "/api/v1/sites", json={"name": "Bench"},
                             headers={"Authorization": f"Bearer {token}"}) as resp:
            site_key = (await resp.json())["site"]["siteKey"]
        visitor = await http.ws_connect(url + "/ws/widget")
        await visitor.send_json({"type": "visitor:join", "data": {"siteKey": site_key}})
        await wait_for(visitor, "session")
        await visitor.send_json({"type": "visitor:message", "ref": "first",
                                 "data": {"clientId": "first", "text": "hello"}})
        chat_id = (await wait_for(visitor, "ack", "first"))["data"]["message"]["chatId"]
        operator = await http.ws_connect(url + "/ws/operator")
        await operator.send_json({"type": "auth", "data": {"token": token}})
        await wait_for(operator, "operator:ready")

        to_visitor, to_ack = [], []
        for i in range(count):
            ref = f"r{i}"
            start = time.perf_counter()
            await operator.send_json({"type": "operator:message", "ref": ref, "data": {
                "chatId": chat_id, "clientId": ref, "text": f"reply {i}"}})
            got = await wait_for(visitor, "admin:message")
            to_visitor.append((time.perf_counter() - start) * 1000)
            await wait_for(operator, "ack", ref)
            to_ack.append((time.perf_counter() - start) * 1000)
            assert got["data"]["message"]["text"] == f"reply {i}"
        await visitor.close()
        await operator.close()
    return {"count": count,
            "visitor_p50_ms": statistics.median(to_visitor), "visitor_p99_ms": pct(to_visitor, 99),
            "ack_p50_ms": statistics.median(to_ack), "ack_p99_ms": pct(to_ack, 99)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    result = asyncio.run(main(args.url.rstrip("/"), args.count))
    print(f"{result['count']} durable operator→visitor round trips")
    print(f"  operator send → visitor receives: p50 {result['visitor_p50_ms']:.2f} ms,"
          f" p99 {result['visitor_p99_ms']:.2f} ms")
    print(f"  operator send → operator ack:     p50 {result['ack_p50_ms']:.2f} ms,"
          f" p99 {result['ack_p99_ms']:.2f} ms")
