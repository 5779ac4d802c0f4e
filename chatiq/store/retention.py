"""Per-site retention: the setting, the sites that have one, and visitors nothing keeps."""

from __future__ import annotations

from chatiq.store import db

# pg_try_advisory_lock's key for "one retention run at a time" across processes.
RETENTION_LOCK_KEY = 7_312_450_982


async def retention_days(pool, site_id: int) -> int | None:
    row = await db.fetchone(pool, "SELECT retention_days FROM sites WHERE id = %(s)s",
                            {"s": site_id})
    if row is None:
        raise db.NotFound("site not found")
    return row["retention_days"]


async def set_retention_days(pool, site_id: int, days: int | None) -> int | None:
    """Store the setting; returns the value it replaced."""
    row = await db.fetchone(
        pool, "UPDATE sites s SET retention_days = %(d)s FROM sites old"
              " WHERE s.id = %(s)s AND old.id = s.id RETURNING old.retention_days AS before",
        {"s": site_id, "d": days})
    if row is None:
        raise db.NotFound("site not found")
    return row["before"]


async def sites_with_retention(pool) -> list[tuple[int, int]]:
    """(site id, days) of every site that does not keep chats forever."""
    rows = await db.fetchall(
        pool, "SELECT id, retention_days FROM sites WHERE retention_days IS NOT NULL ORDER BY id")
    return [(r["id"], r["retention_days"]) for r in rows]


async def delete_idle_visitors(pool, site_id: int, days: int) -> list[int]:
    """Visitors of the site unseen for `days` with no chat and no upload left: their page,
    browser and address are personal data too. Returns their ids.

    Two statements: the first locks the candidates (a visitor posting a first message
    holds that lock, and is skipped); the second, with a fresh snapshot, sees any chat
    committed meanwhile, so a visitor who just wrote is never taken with their chat."""
    idle = (" AND v.last_seen < now() - make_interval(days => %(d)s)"
            " AND NOT EXISTS (SELECT 1 FROM chats c WHERE c.visitor_id = v.id)"
            " AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.uploader_kind = 'visitor'"
            "                 AND a.uploader_id = v.id)")
    async with db.transaction(pool) as cur:
        await cur.execute("SELECT v.id FROM visitors v WHERE v.site_id = %(s)s" + idle +
                          " FOR UPDATE SKIP LOCKED", {"s": site_id, "d": days})
        ids = [r["id"] for r in await cur.fetchall()]
        if not ids:
            return []
        await cur.execute("DELETE FROM visitors v WHERE v.id = ANY(%(ids)s)" + idle +
                          " RETURNING v.id", {"ids": ids, "d": days})
        return [r["id"] for r in await cur.fetchall()]


async def try_lock(cur) -> bool:
    """Take the retention lock on this cursor's connection if nobody holds it."""
    await cur.execute("SELECT pg_try_advisory_lock(%(k)s) AS ok", {"k": RETENTION_LOCK_KEY})
    return (await cur.fetchone())["ok"]


async def unlock(cur) -> None:
    await cur.execute("SELECT pg_advisory_unlock(%(k)s)", {"k": RETENTION_LOCK_KEY})
