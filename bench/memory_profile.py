"""Where a held visitor socket's memory goes: tracemalloc and object counts per socket.

Runs the ChatIQ app in this process (embedded PostgreSQL in a temp dir) with
tracemalloc on, opens N joined visitor sockets from a separate client process, and
prints the allocation sites and object types that grew, divided by N. The same for a
bare aiohttp WebSocket handler (`--bare`) gives the baseline's share.

    python -m bench.memory_profile --sockets 2000 [--bare]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import multiprocessing
import os
import shutil
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path

from aiohttp import web

from bench.common import free_port, rss_kib, setup_site


def _client(url: str, site_key: str, n: int, join: bool, conn) -> None:
    """Open n sockets, report, hold them until told to stop."""
    import aiohttp

    async def main():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            sem = asyncio.Semaphore(200)
            sockets = []

            async def one():
                async with sem:
                    ws = await http.ws_connect(url + "/ws/widget")
                    if join:
                        await ws.send_str(json.dumps({"type": "visitor:join",
                                                      "data": {"siteKey": site_key}}))
                        while json.loads((await ws.receive()).data)["type"] != "session":
                            pass
                    sockets.append(ws)

            await asyncio.gather(*(one() for _ in range(n)))
            conn.send("open")
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


def _types() -> Counter:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


async def _bare_app() -> web.Application:
    from bench import bare_relay

    app = web.Application()
    app.router.add_get("/ws/widget", bare_relay.socket)
    app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
    return app


async def profile(n: int, bare: bool, top: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="cqm", dir="/tmp"))
    pg = None
    try:
        if bare:
            app = await _bare_app()
        else:
            from chatiq.app import create_app
            from chatiq.config import load_config
            from chatiq.store.embedded import EmbeddedPostgres

            pg = EmbeddedPostgres(data / "pg")
            dsn = pg.start()
            config = load_config(data_dir=str(data), env={"CHATIQ_RATE_LIMITS": "off",
                                                           "DATABASE_URL": dsn})
            app = create_app(dataclasses.replace(config, database_url=dsn))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}"
        site_key = "bare" if bare else (await asyncio.to_thread(setup_site, url))[1]

        tracemalloc.start(12)
        gc.collect()
        before, types_before, rss_before = tracemalloc.take_snapshot(), _types(), rss_kib(os.getpid())
        ours, theirs = multiprocessing.Pipe()
        client = multiprocessing.get_context("spawn").Process(
            target=_client, args=(url, site_key, n, not bare, theirs))
        client.start()
        while not ours.poll():
            await asyncio.sleep(0.1)
        ours.recv()
        await asyncio.sleep(1.0)
        gc.collect()
        after, types_after, rss_after = tracemalloc.take_snapshot(), _types(), rss_kib(os.getpid())
        traced = sum(s.size_diff for s in after.compare_to(before, "filename"))
        print(f"{'bare aiohttp' if bare else 'ChatIQ'}: {n} sockets; RSS +{(rss_after - rss_before) / n:.1f}"
              f" KiB/socket (tracemalloc on, so RSS is inflated), Python-traced"
              f" +{traced / n / 1024:.2f} KiB/socket")
        print(f"\ntop {top} allocation sites, bytes per socket:")
        for stat in after.compare_to(before, "lineno")[:top]:
            frame = stat.traceback[0]
            where = "/".join(Path(frame.filename).parts[-2:])
            print(f"  {stat.size_diff / n:8.0f}  {where}:{frame.lineno}")
        print(f"\ntop {top} object types, objects per socket:")
        grown = Counter({k: types_after[k] - types_before.get(k, 0) for k in types_after})
        for name, count in grown.most_common(top):
            print(f"  {count / n:6.2f}  {name}")
        print("\ntasks alive, per socket, by coroutine:")
        tasks = Counter(t.get_coro().__qualname__ for t in asyncio.all_tasks())
        for name, count in tasks.most_common(6):
            print(f"  {count / n:6.2f}  {name}")
        ours.send("stop")
        client.join(30)
        tracemalloc.stop()
        try:  # a stuck shutdown must not keep the embedded PostgreSQL running
            await asyncio.wait_for(runner.cleanup(), 30)
        except asyncio.TimeoutError:
            print("warning: the app did not shut down within 30 s")
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--bare", action="store_true", help="profile the bare aiohttp handler")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(profile(args.sockets, args.bare, args.top))


if __name__ == "__main__":
    main()
