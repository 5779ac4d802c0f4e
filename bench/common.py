"""Shared by the benchmarks: start servers as separate processes, wait for health, stop them."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("server not healthy in time")


class ChatiqServer:
    """`python -m chatiq serve` with its own embedded PostgreSQL in a temp data dir."""

    def __init__(self, data_dir: Path | None = None, env: dict | None = None, port: int | None = None):
        self.owned = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="cqb", dir="/tmp"))
        self.port = port or free_port()
        self.env = {**os.environ, "CHATIQ_RATE_LIMITS": "off", "DATABASE_URL": "",
                    "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatiq", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir)], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc)
        return time.monotonic() - started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.data_dir / 'pg'}"

    def rss_kib(self) -> int:
        return rss_kib(self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def cleanup(self) -> None:
        self.stop()
        if self.owned:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class BareRelay:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_relay.py"),
                                      str(self.port)])
        wait_healthy(self.port, self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        return rss_kib(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def machine() -> str:
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // (1024 * 1024)
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, Python {platform.python_version()}"


def api(url: str, path: str, body: dict | None = None, token: str | None = None,
        method: str | None = None) -> dict:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body else None,
                                 method=method,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def setup_site(url: str) -> tuple[str, str]:
    """(owner JWT, site key) on a fresh organization."""
    email = f"bench-{os.getpid()}-{time.monotonic_ns()}@example.com"
    token = api(url, "/api/v1/auth/register", {"email": email, "password": "bench password",
                                               "name": "Bench", "organization": "Bench"})["token"]
    site = api(url, "/api/v1/sites", {"name": "Bench"}, token)["site"]
    return token, site["siteKey"]
