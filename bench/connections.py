"""Idle visitor sockets held by one process, RSS per socket, and fan-out to all of them.

Opens N joined visitor WebSockets to a fresh `chatiq serve` (each received its
`session`) in steps, reading the server's RSS after each step. When `--fanout-at`
sockets are open it saves the site's settings once and times until the last widget
has `settings:update`, and again with all N. The same idle sockets, in the same
steps, are opened to a bare aiohttp WebSocket server (no database, no state) for the
RSS baseline.

    python -m bench.connections --sockets 19000 --fanout-at 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

import aiohttp

from bench.common import BareRelay, ChatiqServer, api, load_average, machine, setup_site



class SettingsWatch:
    """Counts the sockets that received each `settings:update` (keyed by its color)."""

    def __init__(self):
        self.counts: dict[str, int] = {}                       # color → sockets that have it
        self.waiters: dict[str, tuple[int, asyncio.Event]] = {}  # color → (how many, fired when)

    async def read(self, ws) -> None:
        """Every socket is read all along, so the server's heartbeat pings get answered."""
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and '"settings:update"' in msg.data:
                color = json.loads(msg.data)["data"]["settings"]["color"]
                self.counts[color] = self.counts.get(color, 0) + 1
                wanted = self.waiters.get(color)
                if wanted and self.counts[color] >= wanted[0]:
                    wanted[1].set()

    async def until(self, color: str, sockets: int) -> None:
        event = asyncio.Event()
        self.waiters[color] = (sockets, event)
        if self.counts.get(color, 0) >= sockets:
            return
        await asyncio.wait_for(event.wait(), 60)


async def open_sockets(session: aiohttp.ClientSession, url: str, site_key: str, n: int,
                       join: bool, watch: SettingsWatch, readers: list) -> list:
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
            readers.append(asyncio.create_task(watch.read(ws)))

    await asyncio.gather(*(one() for _ in range(n)))
    return sockets


def steps(total: int, step: int) -> list[int]:
    """Socket counts at which RSS is read: every `step`, and the total."""
    return sorted({*range(step, total, step), total})


async def ramp(server, site_key: str, total: int, step: int, join: bool,
               at_counts: dict[int, object], settle: float) -> dict:
    """Open sockets up to each step, read RSS; await at_counts[n](watch, n) when n are open.
    `settle` seconds before each reading let the allocator and new tasks settle."""
    await asyncio.sleep(settle)
    curve = [(0, server.rss_kib())]
    stack = hasattr(server, "stack_kib")  # the server with its PostgreSQL
    out = {"stack": [(0, server.stack_kib())] if stack else []}
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    sockets: list = []
    readers: list = []
    watch = SettingsWatch()
    start = time.monotonic()
    try:
        for n in steps(total, step):
            sockets += await open_sockets(session, server.url, site_key, n - len(sockets), join,
                                          watch, readers)
            if n == total:
                out["opened_s"] = time.monotonic() - start
            await asyncio.sleep(settle)
            curve.append((n, server.rss_kib()))
            if stack:
                out["stack"].append((n, server.stack_kib()))
            if n in at_counts:
                out[n] = await at_counts[n](watch, n)
    finally:
        for task in readers:
            task.cancel()
        await session.close()
    out["curve"] = curve
    return out


async def measure_chatiq(n: int, step: int, fanout_at: int, settle: float) -> dict:
    server = ChatiqServer()
    server.start()
    try:
        token, site_key = setup_site(server.url)
        site_id = api(server.url, "/api/v1/sites", token=token)["sites"][0]["id"]
        colors = iter(f"#{i:06x}" for i in range(1, 100))

        async def settings_fanout(watch: SettingsWatch, sockets: int) -> float:
            color = next(colors)
            waiter = asyncio.create_task(watch.until(color, sockets))
            start = time.monotonic()
            await asyncio.to_thread(api, server.url, f"/api/v1/sites/{site_id}/settings",
                                    {"color": color}, token, "PATCH")
            await waiter
            return time.monotonic() - start

        return await ramp(server, site_key, n, step, True,
                          {fanout_at: settings_fanout, n: settings_fanout}, settle)
    finally:
        server.cleanup()


async def measure_bare(n: int, step: int, settle: float) -> dict:
    relay = BareRelay()
    try:
        return await ramp(relay, "bare", n, step, False, {}, settle)
    finally:
        relay.stop()


def run(sockets: int = 19000, step: int = 1000, fanout_at: int = 10000,
        settle: float = 1.0) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fanout_at = min(fanout_at, sockets)
    chatiq = asyncio.run(measure_chatiq(sockets, step, fanout_at, settle))
    load = load_average()
    bare = asyncio.run(measure_bare(sockets, step, settle))
    per_c = (chatiq["curve"][-1][1] - chatiq["curve"][0][1]) / sockets
    per_b = (bare["curve"][-1][1] - bare["curve"][0][1]) / sockets
    return {"sockets": sockets, "fanout_at": fanout_at, "load": load,
            "chatiq_curve": chatiq["curve"], "bare_curve": bare["curve"],
            "per_socket_kib": per_c, "bare_per_socket_kib": per_b,
            "opened_s": chatiq["opened_s"], "fanout_s": chatiq[fanout_at],
            "fanout_all_s": chatiq[sockets], "stack_curve": chatiq["stack"]}


def table(r: dict) -> str:
    c0, c1 = r["chatiq_curve"][0][1], r["chatiq_curve"][-1][1]
    b0, b1 = r["bare_curve"][0][1], r["bare_curve"][-1][1]
    ratio = r["per_socket_kib"] / r["bare_per_socket_kib"]
    verdict = "met" if ratio <= 1.2 else "**not met**"
    stack = dict(r.get("stack_curve") or [])
    at_10k = stack.get(10000, stack.get(r["sockets"]))
    shown_at = 10000 if 10000 in stack else r["sockets"]
    return "\n".join([
        f"| {r['sockets']:,} idle sockets (load {r['load']}) | ChatIQ (joined visitors) |"
        " bare aiohttp | ratio |",
        "|---|---:|---:|---:|",
        f"| RSS at zero sockets | {c0 / 1024:.1f} MiB | {b0 / 1024:.1f} MiB | |",
        f"| RSS with the sockets | {c1 / 1024:.1f} MiB | {b1 / 1024:.1f} MiB | |",
        f"| RSS per socket | {r['per_socket_kib']:.1f} KiB | {r['bare_per_socket_kib']:.1f} KiB |"
        f" {ratio:.2f}× (≤ 1.2×: {verdict}) |",
        f"| whole stack (server + its PostgreSQL, PSS), idle | {stack.get(0, 0) / 1024:.0f} MiB |"
        f" | ≤ 150 MiB: {'met' if stack.get(0, 0) <= 150 * 1024 else '**not met**'} |",
        f"| whole stack with {shown_at:,} joined sockets | {(at_10k or 0) / 1024:.0f} MiB |"
        f" | ≤ 600 MiB at 10,000: {'met' if (at_10k or 0) <= 600 * 1024 else '**not met**'} |",
        f"| open and join all (client-bound) | {r['opened_s']:.1f} s | | |",
        f"| `settings:update` reaches all {r['fanout_at']:,} widgets | {r['fanout_s'] * 1000:,.0f} ms | | |",
        f"| `settings:update` reaches all {r['sockets']:,} widgets | {r['fanout_all_s'] * 1000:,.0f} ms | | |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=19000)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument("--fanout-at", type=int, default=10000)
    args = parser.parse_args()
    result = run(args.sockets, args.step, args.fanout_at)
    print(f"machine: {machine()}")
    print(table(result))


if __name__ == "__main__":
    main()
