"""Durable throughput: visitor messages acknowledged per second (ack only after commit).

N visitors each write one message at a time for a fixed time. Compared, in the same run:
(a) the same PostgreSQL's raw serial single-row insert+commit rate (one writer), and
(b) a bare aiohttp relay that acks without any database, driven by the same load client.

    python -m bench.throughput --visitors 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time

from bench.common import BareRelay, ChatiqServer, load_average, machine, setup_site


async def _visitor(url: str, site_key: str, deadline: float, counts: list, n: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url + "/ws/widget")
        await ws.send_json({"type": "visitor:join", "data": {"siteKey": site_key}})
        while json.loads((await ws.receive()).data)["type"] != "session":
            pass
        i = 0
        while time.monotonic() < deadline:
            ref = f"{n}-{i}"
            await ws.send_str(json.dumps({"type": "visitor:message", "ref": ref,
                                          "data": {"clientId": ref, "text": f"message {i}"}}))
            while True:
                frame = json.loads((await ws.receive()).data)
                if frame.get("ref") == ref:
                    assert frame["type"] == "ack", frame
                    break
            i += 1
        counts.append(i)
        await ws.close()


def _load(url: str, site_key: str, visitors: int, seconds: float, out) -> None:
    async def run():
        counts: list[int] = []
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_visitor(url, site_key, deadline, counts, n) for n in range(visitors)))
        return sum(counts)

    out.put(asyncio.run(run()))


def drive(url: str, site_key: str, visitors: int, seconds: float) -> float:
    """Run the load client in its own process; messages acked per second."""
    out = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_load, args=(url, site_key, visitors, seconds, out))
    proc.start()
    total = out.get(timeout=seconds + 120)
    proc.join()
    return total / seconds


def serial_insert_rate(dsn: str, seconds: float) -> float:
    import psycopg2

    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS bench_serial (id bigserial PRIMARY KEY, chat_id bigint,"
                " seq int, text text, created_at timestamptz NOT NULL DEFAULT now())")
    conn.commit()
    n, deadline = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < deadline:
        cur.execute("INSERT INTO bench_serial (chat_id, seq, text) VALUES (%s, %s, %s)",
                    (1, n, f"message {n}"))
        conn.commit()
        n += 1
    rate = n / (time.monotonic() - start)
    cur.execute("DROP TABLE bench_serial")
    conn.commit()
    conn.close()
    return rate


def run(visitors: int = 50, seconds: float = 10.0) -> dict:
    server = ChatiqServer()
    server.start()
    try:
        _, site_key = setup_site(server.url)
        chatiq = drive(server.url, site_key, visitors, seconds)
        load = load_average()
        serial = serial_insert_rate(server.dsn, seconds)
    finally:
        server.cleanup()
    relay = BareRelay()
    try:
        bare = drive(relay.url, "bare", visitors, seconds)
    finally:
        relay.stop()
    return {"visitors": visitors, "seconds": seconds, "chatiq": chatiq, "serial": serial,
            "bare": bare, "load": load}


def table(r: dict) -> str:
    a, b = r["chatiq"] / r["serial"], r["chatiq"] / r["bare"]
    return "\n".join([
        f"{r['visitors']} visitors, one message at a time each, {r['seconds']:g} s per run"
        f" (load {r['load']})",
        "",
        "| what | msgs/s | ChatIQ as a ratio | target |",
        "|---|---:|---:|---|",
        f"| ChatIQ, ack after commit (group commit, store/writer.py) | {r['chatiq']:,.0f} | — | |",
        f"| (a) raw serial single-row insert+commit, same PostgreSQL, one writer |"
        f" {r['serial']:,.0f} | {a:.2f}× | ≥ 2×: {'met' if a >= 2 else '**not met**'} |",
        f"| (b) bare aiohttp relay, acks without a database | {r['bare']:,.0f} | {b:.2f}× |"
        f" ≥ 0.5× (stretch): {'met' if b >= 0.5 else 'not met'} |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    result = run(args.visitors, args.seconds)
    print(f"machine: {machine()}")
    print(table(result))


if __name__ == "__main__":
    main()
