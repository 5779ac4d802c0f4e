"""`chatiq serve` as a real process: embedded PostgreSQL, signals, clear errors."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests_free_http as http

from chatiq import __version__

ROOT = Path(__file__).resolve().parent.parent


def chatiq(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "chatiq", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})}, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, port: int, env=None):
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatiq", "serve", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "DATABASE_URL": "", **(env or {})})

    def wait_healthy(self, timeout=60.0) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise AssertionError("server exited: " + self.proc.stdout.read())
            try:
                status, body = http.get(self.port, "/healthz")
                if status == 200:
                    assert body == {"status": "ok"}
                    return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("not healthy in time")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="cq", dir="/tmp"))  # short: PostgreSQL's socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_version():
    result = chatiq("version")
    assert result.returncode == 0 and result.stdout.strip() == f"chatiq {__version__}"


def test_serve_with_embedded_postgres_then_restart(data_dir):
    port = free_port()
    server = Server(data_dir, port)
    server.wait_healthy()
    status, body = http.post(port, "/api/v1/auth/register", {
        "email": "cli@example.com", "password": "long enough", "name": "C", "organization": "O"})
    assert status == 201
    token = body["token"]
    assert server.stop() == 0
    assert not (data_dir / "pg" / "postmaster.pid").exists(), "PostgreSQL was left running"
    secret = data_dir / "secret_key"
    assert secret.stat().st_mode & 0o777 == 0o600

    # Warm restart: same data, same secret, so the token still works.
    server = Server(data_dir, port)
    server.wait_healthy()
    status, body = http.get(port, "/api/v1/auth/me", token)
    assert status == 200 and body["user"]["email"] == "cli@example.com"
    assert server.stop() == 0


def test_busy_port_is_a_clear_error(data_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = chatiq("serve", "--port", str(port), "--data-dir", str(data_dir),
                        env={"DATABASE_URL": ""})
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_unreachable_database_is_a_clear_error(data_dir):
    result = chatiq("serve", "--port", str(free_port()), "--data-dir", str(data_dir),
                    env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 2
    assert "cannot reach the database at 127.0.0.1" in result.stderr
    assert result.stderr.count("\n") <= 2  # one line, no traceback


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = chatiq("serve", "--data-dir", str(blocker / "sub"))
    assert result.returncode == 2 and "is not writable" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_against_database_url(database_url, tmp_path):
    result = chatiq("migrate", "--data-dir", str(tmp_path), env={"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert "already up to date" in result.stdout
