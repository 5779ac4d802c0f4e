"""Apply sql/NNNN_*.sql in order, each once, each in its own transaction.

An advisory lock makes two processes starting at once take turns instead of racing.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from chatiq.core.resources import resource_path
from chatiq.store import db

log = logging.getLogger(__name__)

# An arbitrary constant shared by every ChatIQ process: pg_advisory_lock's key.
MIGRATION_LOCK_KEY = 7_312_450_981
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files(directory: Path | None = None) -> list[tuple[str, Path]]:
    directory = directory or resource_path("sql")
    found = []
    for path in sorted(directory.iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append((match.group(1), path))
    versions = [v for v, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a number in {directory}")
    return found


async def applied_versions(pool) -> set[str]:
    rows = await db.fetchall(pool, "SELECT version FROM schema_migrations")
    return {r["version"] for r in rows}


async def migrate(pool, directory: Path | None = None) -> list[str]:
    """Apply what is missing; return the versions applied now."""
    applied_now = []
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute("SELECT pg_advisory_lock(%(k)s)", {"k": MIGRATION_LOCK_KEY})
            try:
                await cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version text PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                await cur.execute("SELECT version FROM schema_migrations")
                done = {row[0] if isinstance(row, tuple) else row["version"]
                        for row in await cur.fetchall()}
                for version, path in migration_files(directory):
                    if version in done:
                        continue
                    await cur.execute("BEGIN")
                    try:
                        await cur.execute(path.read_text())
                        await cur.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%(v)s, %(n)s)",
                            {"v": version, "n": path.name},
                        )
                    except BaseException:
                        await cur.execute("ROLLBACK")
                        raise
                    await cur.execute("COMMIT")
                    log.info("applied migration %s", path.name)
                    applied_now.append(version)
            finally:
                await cur.execute("SELECT pg_advisory_unlock(%(k)s)", {"k": MIGRATION_LOCK_KEY})
    return applied_now


async def is_migrated(pool) -> bool:
    try:
        done = await applied_versions(pool)
    except Exception:
        return False
    return all(v in done for v, _ in migration_files())
