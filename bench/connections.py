"""Idle visitor sockets held by one process, RSS per socket, and fan-out to all of them.

Opens N joined visitor WebSockets to a fresh `chatiq serve` (each received its
`session`), reads the server's RSS, then saves the site's settings once and times
until the last widget has `settings:update`. The same N idle sockets are opened to a
bare aiohttp WebSocket server (no database, no state) for the RSS baseline.

    python bench/connections.py --sockets 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BareRelay, ChatiqServer, api, machine, setup_site  # noqa: E402


async def open_sockets(url: str, site_key: str, n: int, join: bool) -> tuple[aiohttp.ClientSession, list]:
    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector)
    sockets: list = []
    sem = asyncio.Semaphore(200)

    async def one():
        async with sem:
            ws = await session.ws_connect(url + "/ws/widget", autoping=True, heartbeat=None)
            if join:
                await ws.send_str(json.dumps({"type": "visitor:join", "data": {"siteKey": site_key}}))
                while json.loads((await ws.receive()).data)["type"] != "session":
                    pass
            sockets.append(ws)

    await asyncio.gather(*(one() for _ in range(n)))
    return session, sockets


async def until_all_have(sockets: list, ftype: str) -> None:
    async def one(ws):
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == ftype:
                return
    await asyncio.gather(*(one(ws) for ws in sockets))


async def measure_chatiq(n: int) -> dict:
    server = ChatiqServer()
    server.start()
    try:
        token, site_key = setup_site(server.url)
        site_id = api(server.url, "/api/v1/sites", token=token)["sites"][0]["id"]
        time.sleep(1.0)
        rss0 = server.rss_kib()
        start = time.monotonic()
        session, sockets = await open_sockets(server.url, site_key, n, join=True)
        opened = time.monotonic() - start
        time.sleep(2.0)
        rss = server.rss_kib()
        waiter = asyncio.create_task(until_all_have(sockets, "settings:update"))
        start = time.monotonic()
        await asyncio.to_thread(api, server.url, f"/api/v1/sites/{site_id}/settings",
                                {"color": "#ff0000"}, token, "PATCH")
        await waiter
        fanout = time.monotonic() - start
        await session.close()
        return {"rss0": rss0, "rss": rss, "opened_s": opened, "fanout_s": fanout}
    finally:
        server.cleanup()


async def measure_bare(n: int) -> dict:
    relay = BareRelay()
    try:
        time.sleep(0.5)
        rss0 = relay.rss_kib()
        session, _ = await open_sockets(relay.url, "bare", n, join=False)
        time.sleep(2.0)
        rss = relay.rss_kib()
        await session.close()
        return {"rss0": rss0, "rss": rss}
    finally:
        relay.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=20000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    chatiq = asyncio.run(measure_chatiq(args.sockets))
    bare = asyncio.run(measure_bare(args.sockets))
    per_c = (chatiq["rss"] - chatiq["rss0"]) / args.sockets
    per_b = (bare["rss"] - bare["rss0"]) / args.sockets
    print(f"machine: {machine()}")
    print(f"| {args.sockets:,} idle sockets | ChatIQ (joined visitors) | bare aiohttp | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| RSS at zero sockets | {chatiq['rss0'] / 1024:.1f} MiB | {bare['rss0'] / 1024:.1f} MiB | |")
    print(f"| RSS with sockets | {chatiq['rss'] / 1024:.1f} MiB | {bare['rss'] / 1024:.1f} MiB | |")
    print(f"| RSS per socket | {per_c:.1f} KiB | {per_b:.1f} KiB | {per_c / per_b:.2f}× |")
    print(f"| time to open and join all | {chatiq['opened_s']:.1f} s | | |")
    print(f"| settings:update to all {args.sockets:,} widgets | {chatiq['fanout_s'] * 1000:.0f} ms | | |")


if __name__ == "__main__":
    main()
