"""Shared by the benchmarks: servers as separate processes, the load clients' few frames."""

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

    def __init__(self, data_dir: Path | None = None, env: dict | None = None, port: int | None = None,
                 log: Path | None = None):
        self.owned = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="cqb", dir="/tmp"))
        self.port = port or free_port()
        self.env = {**os.environ, "CHATIQ_RATE_LIMITS": "off", "DATABASE_URL": "",
                    "PYTHONPATH": str(ROOT), **(env or {})}
        self.log = log  # the server's output; discarded unless given
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        started = time.monotonic()
        out = open(self.log, "a") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatiq", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir)], cwd=ROOT, env=self.env,
            stdout=out, stderr=subprocess.STDOUT)
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

    def stack_kib(self) -> int:
        """The whole stack's memory: this server and every process of its PostgreSQL, by
        PSS (shared pages split between the processes that share them, so the sum is what
        the machine really gives them)."""
        return sum(pss_kib(pid) for pid in [self.proc.pid, *postgres_pids(self.data_dir / "pg")])

    def stop(self) -> None:
        """SIGTERM and wait; a server that does not stop in time is killed, with its
        PostgreSQL, so a benchmark run never leaves processes behind."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"warning: chatiq serve (pid {self.proc.pid}) ignored SIGTERM for 30 s;"
                      " killing it", file=sys.stderr)
                self.proc.kill()
                self.proc.wait()
                pidfile = self.data_dir / "pg" / "postmaster.pid"
                if pidfile.exists():
                    os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
                    time.sleep(2)

    def cleanup(self) -> None:
        self.stop()
        if self.owned:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class BareRelay:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_relay.py"),
                                      str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_healthy(self.port, self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        return rss_kib(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:  # exited meanwhile
        pass
    return 0


def postgres_pids(pgdata: Path) -> list[int]:
    """The postmaster (first line of postmaster.pid) and every process it started."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == postmaster:
                pids.append(int(entry.name))
    return pids


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


def load_average() -> str:
    """The 1-minute load average, shown with every result: the machine is shared."""
    return f"{os.getloadavg()[0]:.2f}"


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def frame_of(ws, ftype: str, timeout: float = 10.0) -> dict:
    """Skip frames until one of ftype arrives."""
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type.name != "TEXT":
            raise RuntimeError(f"socket closed while waiting for {ftype}: {msg!r}")
        frame = json.loads(msg.data)
        if frame["type"] == ftype:
            return frame


async def visitor_in_chat(http, url: str, site_key: str, name: str):
    """A joined visitor whose first message opened its chat: (socket, chat id)."""
    ws = await http.ws_connect(url + "/ws/widget", compress=0)
    await ws.send_json({"type": "visitor:join", "data": {"siteKey": site_key}})
    await frame_of(ws, "session")
    await ws.send_json({"type": "visitor:message", "ref": name,
                        "data": {"clientId": name, "text": "hello"}})
    ack = await frame_of(ws, "ack")
    return ws, ack["data"]["message"]["chatId"]


async def operator(http, url: str, token: str):
    ws = await http.ws_connect(url + "/ws/operator", compress=0)
    await ws.send_json({"type": "auth", "data": {"token": token}})
    await frame_of(ws, "operator:ready")
    return ws
