"""The outbox's SQL: enqueue inside the caller's transaction, claim due jobs with a lease,
record each attempt, and prune what is long finished.

Claiming uses FOR UPDATE SKIP LOCKED, so several processes drain one outbox without
taking the same job; a lease that runs out (the claimer died) makes the job due again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from chatiq.store import db


@dataclass(frozen=True)
class Job:
    id: int
    org_id: int
    kind: str
    dedupe_key: str
    payload: dict
    attempts: int  # including the one being made now
    status: str
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None


_JOB_COLUMNS = ("id, org_id, kind, dedupe_key, payload, attempts, status, created_at,"
                " next_attempt_at, last_error")


def _job(row: dict) -> Job:
    return Job(**row)


async def enqueue(cur, *, org_id: int, kind: str, key: str, payload: dict,
                  delay_seconds: float = 0.0) -> int | None:
    """Add a job in the caller's transaction, so it exists exactly when the event does.

    Returns the new job's id, or None when (kind, key) was enqueued before: the same
    event reported twice is delivered once.
    """
    await cur.execute(
        "INSERT INTO outbox (org_id, kind, dedupe_key, payload, next_attempt_at)"
        " VALUES (%(org)s, %(kind)s, %(key)s, %(payload)s::jsonb,"
        "         now() + make_interval(secs => %(delay)s))"
        " ON CONFLICT (kind, dedupe_key) DO NOTHING RETURNING id",
        {"org": org_id, "kind": kind, "key": key, "payload": json.dumps(payload),
         "delay": delay_seconds})
    row = await cur.fetchone()
    return row["id"] if row else None


async def enqueue_now(pool, **job) -> int | None:
    """`enqueue` in a transaction of its own, for events that are not themselves stored."""
    async with db.transaction(pool) as cur:
        return await enqueue(cur, **job)


async def claim(pool, *, kinds: list[str], limit: int, lease_seconds: float) -> list[Job]:
    """Take up to `limit` due jobs of these kinds, oldest due first, for `lease_seconds`."""
    return [_job(row) for row in await db.fetchall(
        pool,
        "UPDATE outbox SET attempts = attempts + 1,"
        "       locked_until = now() + make_interval(secs => %(lease)s)"
        " WHERE id IN (SELECT id FROM outbox"
        "              WHERE status = 'pending' AND next_attempt_at <= now()"
        "                AND (locked_until IS NULL OR locked_until < now())"
        "                AND kind = ANY(%(kinds)s)"
        "              ORDER BY next_attempt_at, id LIMIT %(limit)s"
        "              FOR UPDATE SKIP LOCKED)"
        f" RETURNING {_JOB_COLUMNS}",
        {"lease": lease_seconds, "kinds": kinds, "limit": limit})]


async def finish(pool, job: Job, *, ok: bool, duration_ms: int, status_code: int | None = None,
                 error: str | None = None, retry_in: float | None = None) -> None:
    """Record one attempt and the job's new state: sent, due again in `retry_in`
    seconds, or failed for good (not ok and no retry)."""
    status = "sent" if ok else ("pending" if retry_in is not None else "failed")
    async with db.transaction(pool) as cur:
        await cur.execute(
            "INSERT INTO outbox_attempts (outbox_id, attempt, ok, status_code, error, duration_ms)"
            " VALUES (%(id)s, %(n)s, %(ok)s, %(code)s, %(error)s, %(ms)s)",
            {"id": job.id, "n": job.attempts, "ok": ok, "code": status_code,
             "error": error, "ms": duration_ms})
        await cur.execute(
            "UPDATE outbox SET status = %(status)s, locked_until = NULL, last_error = %(error)s,"
            "       next_attempt_at = CASE WHEN %(retry)s::float8 IS NULL THEN next_attempt_at"
            "                         ELSE now() + make_interval(secs => %(retry)s::float8) END,"
            "       finished_at = CASE WHEN %(status)s = 'pending' THEN NULL ELSE now() END"
            " WHERE id = %(id)s",
            {"id": job.id, "status": status, "error": error, "retry": retry_in})


async def retry_now(pool, job_id: int, org_id: int) -> bool:
    """An operator's "try again": a failed or waiting job of this organization is due now."""
    row = await db.fetchone(
        pool,
        "UPDATE outbox SET status = 'pending', next_attempt_at = now(), locked_until = NULL"
        " WHERE id = %(id)s AND org_id = %(org)s AND status <> 'sent' RETURNING id",
        {"id": job_id, "org": org_id})
    return row is not None


async def jobs(pool, *, org_id: int, kind: str, limit: int = 100,
               payload_filter: dict | None = None) -> list[Job]:
    """An organization's newest jobs of one kind (optionally whose payload contains
    `payload_filter`), for delivery logs."""
    return [_job(row) for row in await db.fetchall(
        pool,
        f"SELECT {_JOB_COLUMNS} FROM outbox"
        " WHERE org_id = %(org)s AND kind = %(kind)s AND payload @> %(filter)s::jsonb"
        " ORDER BY created_at DESC, id DESC LIMIT %(limit)s",
        {"org": org_id, "kind": kind, "filter": json.dumps(payload_filter or {}),
         "limit": limit})]


async def attempts(pool, job_id: int) -> list[dict]:
    return await db.fetchall(
        pool, "SELECT attempt, at, ok, status_code, error, duration_ms FROM outbox_attempts"
              " WHERE outbox_id = %(id)s ORDER BY id", {"id": job_id})


async def next_due_in(pool, kinds: list[str]) -> float | None:
    """Seconds until the earliest pending job of these kinds falls due (0 if one is due)."""
    # No pending job: min() is NULL, and so is the answer (GREATEST would turn a bare
    # NULL into 0, "due now", and the worker would poll without pause).
    row = await db.fetchone(
        pool,
        "SELECT EXTRACT(EPOCH FROM min(GREATEST(next_attempt_at,"
        "       COALESCE(locked_until, next_attempt_at))) - now())::float8 AS wait"
        " FROM outbox WHERE status = 'pending' AND kind = ANY(%(kinds)s)", {"kinds": kinds})
    if row is None or row["wait"] is None:
        return None
    return max(0.0, row["wait"])


async def prune(pool, *, older_than_days: int) -> int:
    """Forget jobs finished long ago (their attempts go with them)."""
    async with db.cursor(pool) as cur:
        await cur.execute(
            "DELETE FROM outbox WHERE status <> 'pending'"
            " AND finished_at < now() - make_interval(days => %(days)s)",
            {"days": older_than_days})
        return cur.rowcount


async def counts(pool) -> dict[str, int]:
    """Jobs by status, for the metrics ('pending', 'failed'; 'sent' is not counted)."""
    rows = await db.fetchall(
        pool, "SELECT status, count(*) AS n FROM outbox WHERE status <> 'sent' GROUP BY status")
    return {r["status"]: r["n"] for r in rows}
