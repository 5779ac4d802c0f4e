"""Latency at fixed offered rates, open loop: ChatIQ against the bare aiohttp relay.

Sends are scheduled at the rate (message i at t0 + i/rate) and never wait for acks or
replies; latency runs from the scheduled send time to receipt, so a server that falls
behind shows its queueing instead of hiding it (no coordinated omission). Both
directions: operator→visitor (`admin:message` at the visitor) and visitor→operator
(`visitor:message` at one operator), spread over `--chats` chats of one site. Operator
sends are spread over `--operators` connections: one connection's frames are handled in
order, each after the previous one's commit, so a single operator socket tops out near
one message per commit round trip; real traffic at these rates comes from many operators.
Fan-out to many operators is bench/fanout.py's measurement, not this one's.

    python -m bench.latency --rates 100,500,1000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid

import aiohttp

from bench.common import (BareRelay, ChatiqServer, load_average, machine, operator, pct,
                          setup_site, visitor_in_chat)

DIRECTIONS = ("operator→visitor", "visitor→operator")
# Points kept from each run's sorted latencies for the CDF plot.
CDF_POINTS = 200


async def _reader(ws, ftype: str, prefix: str, got: dict, done: asyncio.Event, expected: int) -> None:
    """Record the receipt time of every ftype frame whose text is prefix + index."""
    loop = asyncio.get_running_loop()
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        now = loop.time()
        frame = json.loads(msg.data)
        if frame["type"] != ftype:
            continue
        text = frame["data"]["message"].get("text") or ""
        if text.startswith(prefix):
            got[int(text[len(prefix):])] = now
            if len(got) >= expected:
                done.set()


async def run_rate(url: str, token: str, site_key: str, direction: str, rate: float,
                   seconds: float, chats: int, operators: int) -> dict:
    """One open-loop run; latencies in ms from scheduled send to receipt."""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        visitors = [await visitor_in_chat(http, url, site_key, uuid.uuid4().hex)
                    for _ in range(chats)]
        senders = operators if direction == "operator→visitor" else 1
        ops = [await operator(http, url, token) for _ in range(senders)]
        count = max(1, int(rate * seconds))
        warmup = max(1, count // 10)  # the first tenth settles caches and is not counted
        prefix = f"L{uuid.uuid4().hex[:6]}-"
        got: dict[int, float] = {}
        done = asyncio.Event()
        if direction == "operator→visitor":
            readers = [asyncio.create_task(_reader(ws, "admin:message", prefix, got, done, count))
                       for ws, _ in visitors]
        else:
            readers = [asyncio.create_task(_reader(ops[0], "visitor:message", prefix, got, done,
                                                   count))]
        # Replies the senders get back (acks) are read and dropped, so buffers never fill.
        drains = [asyncio.create_task(_drain(ws)) for ws in (
            [ws for ws, _ in visitors] if direction == "visitor→operator" else ops)]

        scheduled: list[float] = []
        t0 = loop.time() + 0.05
        for i in range(count):
            at = t0 + i / rate
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            scheduled.append(at)
            ws, chat_id = visitors[i % chats]
            cid = f"{prefix}{i}"
            if direction == "operator→visitor":
                await ops[i % operators].send_str(json.dumps({"type": "operator:message", "ref": cid, "data": {
                    "chatId": chat_id, "clientId": cid, "text": cid}}))
            else:
                await ws.send_str(json.dumps({"type": "visitor:message", "ref": cid, "data": {
                    "clientId": cid, "text": cid}}))
        try:
            await asyncio.wait_for(done.wait(), 10.0)
        except asyncio.TimeoutError:
            pass
        for task in readers + drains:
            task.cancel()
        for ws in [ws for ws, _ in visitors] + ops:
            await ws.close()
    latencies = sorted((got[i] - scheduled[i]) * 1000 for i in range(warmup, count) if i in got)
    # Not received 10 s after the last send: late beyond measuring, or lost.
    lost = sum(1 for i in range(count) if i not in got)
    return {"direction": direction, "rate": rate, "count": count - warmup, "lost": lost,
            "p50": pct(latencies, 50) if latencies else None,
            "p99": pct(latencies, 99) if latencies else None,
            "max": latencies[-1] if latencies else None,
            "cdf": [latencies[int(k * (len(latencies) - 1) / (CDF_POINTS - 1))]
                    for k in range(CDF_POINTS)] if latencies else []}


async def _drain(ws) -> None:
    async for _ in ws:
        pass


async def _all_rates(url: str, token: str, site_key: str, rates, seconds, chats,
                     operators) -> list[dict]:
    out = []
    for rate in rates:
        for direction in DIRECTIONS:
            result = await run_rate(url, token, site_key, direction, rate, seconds, chats,
                                    operators)
            result["load"] = load_average()
            out.append(result)
    return out


def run(rates=(100, 500, 1000), seconds: float = 10.0, chats: int = 50,
        operators: int = 10, server: ChatiqServer | None = None) -> dict:
    """Every rate and direction against ChatIQ (a fresh one unless given), then the bare relay."""
    own = server is None
    if own:
        server = ChatiqServer()
        server.start()
    try:
        token, site_key = setup_site(server.url)
        chatiq = asyncio.run(_all_rates(server.url, token, site_key, rates, seconds, chats,
                                          operators))
    finally:
        if own:
            server.cleanup()
    relay = BareRelay()
    try:
        bare = asyncio.run(_all_rates(relay.url, "bare", "bare", rates, seconds, chats, operators))
    finally:
        relay.stop()
    return {"seconds": seconds, "chats": chats, "operators": operators, "chatiq": chatiq,
            "bare": bare}


def table(result: dict) -> str:
    rows = [f"{result['chats']} chats; operator→visitor sent over {result['operators']} operator"
            f" connections, visitor→operator watched by one; open loop, {result['seconds']:g} s"
            " per rate and direction (first tenth not counted); ms from scheduled send to receipt;"
            " missing: not received 10 s after the last send",
            "",
            "| direction | offered msg/s | ChatIQ p50 | ChatIQ p99 | bare p50 | bare p99 |"
            " p99 ratio | missing | p99 ≤ 20 ms | load |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for c, b in zip(result["chatiq"], result["bare"]):
        if c["p99"] is None or b["p99"] is None:
            rows.append(f"| {c['direction']} | {c['rate']:,.0f} | no samples | | | | | {c['lost']} | | |")
            continue
        verdict = "met" if c["p99"] <= 20 else "**not met**"
        rows.append(f"| {c['direction']} | {c['rate']:,.0f} | {c['p50']:.2f} | {c['p99']:.2f} |"
                    f" {b['p50']:.2f} | {b['p99']:.2f} | {c['p99'] / b['p99']:.1f}× |"
                    f" {c['lost'] + b['lost']} | {verdict} | {c['load']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,500,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--operators", type=int, default=10)
    args = parser.parse_args()
    result = run([float(r) for r in args.rates.split(",")], args.seconds, args.chats,
                 args.operators)
    print(f"machine: {machine()}")
    print(table(result))


if __name__ == "__main__":
    main()
