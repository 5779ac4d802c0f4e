"""Pool creation, transactions and the domain errors every query module raises."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiopg
import psycopg2.extras


class StoreError(Exception):
    """Base of the errors the store raises for the layers above to map."""

    code = "internal"


class NotFound(StoreError):
    code = "not_found"


class Conflict(StoreError):
    code = "conflict"


class DatabaseUnavailable(StoreError):
    """The database could not be reached: the caller may retry later."""

    code = "unavailable"


async def create_pool(dsn: str, *, maxsize: int = 10) -> aiopg.Pool:
    return await aiopg.create_pool(
        dsn, minsize=1, maxsize=maxsize, timeout=10.0, pool_recycle=600,
        cursor_factory=psycopg2.extras.RealDictCursor,
    )


@contextlib.asynccontextmanager
async def transaction(pool: aiopg.Pool) -> AsyncIterator[Any]:
    """A cursor inside BEGIN … COMMIT; any exception rolls back."""
    try:
        conn = await pool.acquire()
    except Exception as exc:  # psycopg2.OperationalError, timeouts
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        cur = await conn.cursor()
        try:
            await cur.execute("BEGIN")
            try:
                yield cur
            except BaseException:
                if not conn.closed:
                    await cur.execute("ROLLBACK")
                raise
            await cur.execute("COMMIT")
        finally:
            cur.close()
    except psycopg2.OperationalError as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    finally:
        await pool.release(conn)


@contextlib.asynccontextmanager
async def cursor(pool: aiopg.Pool) -> AsyncIterator[Any]:
    """An autocommit cursor for reads and single statements."""
    try:
        async with pool.acquire() as conn:
            async with conn.cursor() as cur:
                yield cur
    except psycopg2.OperationalError as exc:
        raise DatabaseUnavailable(str(exc)) from exc


async def fetchone(pool: aiopg.Pool, sql: str, params: dict | None = None) -> dict | None:
    async with cursor(pool) as cur:
        await cur.execute(sql, params or {})
        return await cur.fetchone()


async def fetchall(pool: aiopg.Pool, sql: str, params: dict | None = None) -> list[dict]:
    async with cursor(pool) as cur:
        await cur.execute(sql, params or {})
        return await cur.fetchall()


async def max_connections(pool: aiopg.Pool) -> int:
    """The server's max_connections: `--workers` warns when its pools could exceed it."""
    rows = await fetchall(pool, "SELECT current_setting('max_connections')::int AS n")
    return rows[0]["n"]


def unreachable(dsn: str) -> str | None:
    """Why DATABASE_URL cannot be reached, in one line; None when it can (checked once at
    start-up, before the event loop, so a wrong URL fails fast with a clear message)."""
    try:
        psycopg2.connect(dsn, connect_timeout=5).close()
    except psycopg2.Error as exc:
        where = urlsplit(dsn).hostname or "the local socket"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot reach the database at {where}: {first}"
    return None
