"""The database side of `chatiq backup` / `restore`: a pg_dump taken in one snapshot together
with the list of file blobs that snapshot refers to, and loading a dump in one transaction.

Synchronous (psycopg2 and subprocesses): these run from the CLI, never in the server.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2

from chatiq.store import pgtools


class DumpError(Exception):
    """pg_dump / pg_restore / psql failed; the message carries their own last words."""


def server_major(dsn: str) -> int:
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_setting('server_version_num')::int / 10000")
        return cur.fetchone()[0]


@contextlib.contextmanager
def snapshot(dsn: str) -> Iterator[tuple[str, list[str]]]:
    """(snapshot id, blob keys) of one moment of the database; the snapshot stays usable
    by pg_dump --snapshot until the block ends. Blob keys: every attachment's sha256, and
    its preview's."""
    with contextlib.closing(psycopg2.connect(dsn)) as conn:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            snapshot_id = cur.fetchone()[0]
            cur.execute("SELECT sha256, bool_or(has_thumb) FROM attachments GROUP BY sha256"
                        " ORDER BY sha256")
            keys = []
            for sha, thumb in cur.fetchall():
                keys.append(sha)
                if thumb:
                    keys.append(sha + "-thumb")
            yield snapshot_id, keys
        conn.rollback()


def dump(dsn: str, snapshot_id: str, target: Path, *, embedded=None) -> None:
    """pg_dump's custom format (compressed, readable by pg_restore) of the snapshot.
    The login buckets (UNLOGGED) are left out: limits need no backup."""
    pg_dump = pgtools.find("pg_dump", embedded=embedded, at_least=server_major(dsn))
    _run([str(pg_dump), "--format=custom", "--no-unlogged-table-data",
          f"--snapshot={snapshot_id}", f"--file={target}", f"--dbname={dsn}"])


def check_archive(path: Path, *, embedded=None) -> int:
    """How many entries pg_restore reads in the archive; DumpError if it cannot read it."""
    pg_restore = pgtools.find("pg_restore", embedded=embedded)
    listing = _run([str(pg_restore), "--list", str(path)])
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    if not entries:
        raise DumpError("the database dump holds nothing")
    return len(entries)


def is_empty(dsn: str) -> bool:
    """No tables outside PostgreSQL's own schemas: nothing a restore would overwrite."""
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables"
                    " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
        return cur.fetchone()[0] == 0


def load(dsn: str, archive: Path, scratch: Path, *, replace: bool, embedded=None) -> None:
    """Load the dump into the database in one transaction: on any error nothing changes.
    With `replace`, the public schema is emptied first, in that same transaction."""
    major = server_major(dsn)
    pg_restore = pgtools.find("pg_restore", embedded=embedded, at_least=major)
    psql = pgtools.find("psql", embedded=embedded, at_least=major)
    script = scratch / "database.sql"
    # Owners and grants belong to the machine the dump came from, not this one.
    _run([str(pg_restore), "--no-owner", "--no-privileges", f"--file={script}", str(archive)])
    args = [str(psql), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction",
            f"--dbname={dsn}"]
    if replace:
        args.append("--command=DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    _run(args + [f"--file={script}"])


def _run(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    except OSError as exc:
        raise DumpError(f"{Path(args[0]).name}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise DumpError(f"{Path(args[0]).name}: {last}")
    return done.stdout
