"""LISTEN/NOTIFY: the channel the processes sharing one database talk on (see live/bus.py).

Stored messages are announced by the writer's batch (inside its transaction, so only if it
commits); everything else the bus sends goes through `notify` here.
"""

from __future__ import annotations

import aiopg

from chatiq.store import db

# The one channel: payloads are JSON objects naming the sending process ("n").
EVENTS_CHANNEL = "chatiq_events"


async def notify(pool, payloads: list[str]) -> None:
    """Send each payload on the channel, in order, on one pooled connection."""
    async with db.cursor(pool) as cur:
        for payload in payloads:
            await cur.execute("SELECT pg_notify(%(ch)s, %(p)s)",
                              {"ch": EVENTS_CHANNEL, "p": payload})


async def stash(pool, node: str, payload: str) -> None:
    """Relay a payload too large for NOTIFY: keep it in bus_stash and NOTIFY its id."""
    async with db.cursor(pool) as cur:
        await cur.execute(
            "WITH s AS (INSERT INTO bus_stash (payload) VALUES (%(p)s) RETURNING id)"
            " SELECT pg_notify(%(ch)s, json_build_object('n', %(n)s::text, 'x', s.id)::text)"
            " FROM s", {"p": payload, "ch": EVENTS_CHANNEL, "n": node})


async def unstash(pool, stash_id: int) -> str | None:
    row = await db.fetchone(pool, "SELECT payload FROM bus_stash WHERE id = %(id)s",
                            {"id": stash_id})
    return None if row is None else row["payload"]


async def prune_stash(pool, older_than_seconds: float = 60.0) -> None:
    await db.fetchone(pool, "DELETE FROM bus_stash WHERE created_at < now() - make_interval("
                            "secs => %(s)s) RETURNING 1", {"s": older_than_seconds})


async def listen(dsn: str, node: str):
    """A dedicated connection LISTENing on the channel, and its cursor. Named, so an
    operator (or a test) can find and cut it in pg_stat_activity."""
    conn = await aiopg.connect(dsn, timeout=10, application_name=f"chatiq-listen-{node}")
    try:
        cur = await conn.cursor()
        await cur.execute("LISTEN " + EVENTS_CHANNEL)  # a constant, not input
    except BaseException:
        conn.close()
        raise
    return conn, cur


async def heartbeat(cur) -> float:
    """The database's clock (epoch seconds), read over the LISTEN connection: proves the
    connection is alive and tells where a replay after losing it must start."""
    await cur.execute("SELECT extract(epoch FROM now())::float8 AS t")
    row = await cur.fetchone()
    return row[0] if isinstance(row, tuple) else row["t"]
