"""Fan-out to operators: one visitor message, N operator sockets watching the site.

For each message: the visitor sends it, and we time until the last of the N operator
connections has its `visitor:message` (p50/p99 over `--messages` messages, one at a
time). The operator sockets belong to one account: the server's cost is per
connection, as each gets its own copy. Same client against the bare aiohttp relay.

    python -m bench.fanout --operators 1,10,50 --messages 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid

import aiohttp

from bench.common import (BareRelay, ChatiqServer, load_average, machine, operator, pct,
                          setup_site, visitor_in_chat)


async def _count(ws, prefix: str, seen: dict, wanted: int, arrived: dict) -> None:
    """seen[i] counts the sockets that have message i; arrived[i] fires at the last one."""
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        frame = json.loads(msg.data)
        if frame["type"] != "visitor:message":
            continue
        text = frame["data"]["message"].get("text") or ""
        if text.startswith(prefix):
            i = int(text[len(prefix):])
            seen[i] = seen.get(i, 0) + 1
            if seen[i] == wanted:
                arrived[i].set()


async def run_count(url: str, token: str, site_key: str, operators: int, messages: int) -> dict:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        visitor, _ = await visitor_in_chat(http, url, site_key, uuid.uuid4().hex)
        ops = [await operator(http, url, token) for _ in range(operators)]
        prefix = f"F{uuid.uuid4().hex[:6]}-"
        seen: dict[int, int] = {}
        arrived = {i: asyncio.Event() for i in range(messages)}
        tasks = [asyncio.create_task(_count(ws, prefix, seen, operators, arrived)) for ws in ops]
        drain = asyncio.create_task(_drain(visitor))
        warmup = max(1, messages // 10)
        times = []
        for i in range(messages):
            start = loop.time()
            await visitor.send_str(json.dumps({"type": "visitor:message", "ref": f"{prefix}{i}",
                                               "data": {"clientId": f"{prefix}{i}",
                                                        "text": f"{prefix}{i}"}}))
            await asyncio.wait_for(arrived[i].wait(), 10.0)
            if i >= warmup:
                times.append((loop.time() - start) * 1000)
        for task in tasks + [drain]:
            task.cancel()
        for ws in ops + [visitor]:
            await ws.close()
    return {"operators": operators, "count": len(times), "p50": pct(times, 50),
            "p99": pct(times, 99), "load": load_average()}


async def _drain(ws) -> None:
    async for _ in ws:
        pass


async def _all(url: str, token: str, site_key: str, counts, messages) -> list[dict]:
    return [await run_count(url, token, site_key, n, messages) for n in counts]


def run(counts=(1, 10, 50), messages: int = 500, server: ChatiqServer | None = None) -> dict:
    """Each operator count against ChatIQ (a fresh one unless given), then the bare relay."""
    own = server is None
    if own:
        server = ChatiqServer()
        server.start()
    try:
        token, site_key = setup_site(server.url)
        chatiq = asyncio.run(_all(server.url, token, site_key, counts, messages))
    finally:
        if own:
            server.cleanup()
    relay = BareRelay()
    try:
        bare = asyncio.run(_all(relay.url, "bare", "bare", counts, messages))
    finally:
        relay.stop()
    return {"messages": messages, "chatiq": chatiq, "bare": bare}


def table(result: dict) -> str:
    rows = [f"{result['messages']} visitor messages one at a time (first tenth not counted);"
            " ms from send until the last operator socket has it",
            "",
            "| operator sockets | ChatIQ p50 | ChatIQ p99 | bare p50 | bare p99 | p50 ratio | load |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for c, b in zip(result["chatiq"], result["bare"]):
        rows.append(f"| {c['operators']} | {c['p50']:.2f} | {c['p99']:.2f} | {b['p50']:.2f} |"
                    f" {b['p99']:.2f} | {c['p50'] / b['p50']:.1f}× | {c['load']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operators", default="1,10,50")
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    result = run([int(n) for n in args.operators.split(",")], args.messages)
    print(f"machine: {machine()}")
    print(table(result))


if __name__ == "__main__":
    main()
