"""Migrations: in order, each once, safe when two processes start together."""

import asyncio

from chatiq.store.db import create_pool
from chatiq.store.migrate import migrate, migration_files


def test_files_are_numbered_and_ordered():
    versions = [v for v, _ in migration_files()]
    assert versions == sorted(versions) and versions[0] == "0001"


async def test_applying_twice_is_a_no_op(database_url, sql):
    before = sql("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    pool = await create_pool(database_url, maxsize=2)
    try:
        assert await migrate(pool) == []
    finally:
        pool.close()
        await pool.wait_closed()
    assert sql("SELECT version, applied_at FROM schema_migrations ORDER BY version") == before


async def test_two_processes_racing_apply_each_migration_once(pg_server, tmp_path):
    """Two pools (as two processes would) migrate an empty database at the same time."""
    import psycopg2

    from conftest import _dsn, admin_connection

    socket_dir, _ = pg_server
    conn = admin_connection(socket_dir)
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS race_db")
        cur.execute("CREATE DATABASE race_db")
    dsn = _dsn(socket_dir, "race_db")
    pools = [await create_pool(dsn, maxsize=1) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(p) for p in pools))
        assert sorted(len(r) for r in results) == [0, len(migration_files())]
    finally:
        for p in pools:
            p.close()
            await p.wait_closed()
    check = psycopg2.connect(dsn)
    with check.cursor() as cur:
        cur.execute("SELECT count(*) FROM schema_migrations")
        assert cur.fetchone()[0] == len(migration_files())
    check.close()
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE race_db WITH (FORCE)")
    conn.close()


async def test_a_failing_migration_rolls_back_and_is_not_recorded(database_url, sql, tmp_path):
    import shutil

    from chatiq.core.resources import resource_path

    for _, path in migration_files():
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "9998_good.sql").write_text("CREATE TABLE good_one (id int);")
    (tmp_path / "9999_broken.sql").write_text("CREATE TABLE half_done (id int); SELECT nonsense;")
    pool = await create_pool(database_url, maxsize=1)
    try:
        try:
            await migrate(pool, tmp_path)
        except Exception:
            pass
        else:
            raise AssertionError("a broken migration must raise")
    finally:
        pool.close()
        await pool.wait_closed()
    versions = [r[0] for r in sql("SELECT version FROM schema_migrations ORDER BY version")]
    assert "9998" in versions and "9999" not in versions
    assert sql("SELECT to_regclass('half_done')") == [(None,)]
    assert resource_path("sql").is_dir()
