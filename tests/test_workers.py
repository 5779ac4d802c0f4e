"""`chatiq serve --workers N`: several processes on one port and one embedded PostgreSQL.

Real processes only: the parent, its workers and PostgreSQL are checked in /proc.
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest

from conftest import ChatHelper, recv_until

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def children(pid: int, marker: str = "") -> set[int]:
    """Live child processes of pid whose command line contains marker."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z" and marker in cmdline:
                found.add(int(entry.name))
    return found


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])


def serving_pid(ws, server_port: int, pids: set[int]) -> int:
    """Which worker holds the server side of this client socket (via /proc/net/tcp)."""
    client_port = ws._response.connection.transport.get_extra_info("sockname")[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    assert inode is not None, "server side of the socket not found"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError("no worker holds the socket")


class Supervised:
    def __init__(self, data_dir: Path, port: int, workers: str = "2"):
        self.data_dir, self.port = data_dir, port
        self.log = open(f"{data_dir}.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatiq", "serve", "--workers", workers, "--port", str(port),
             "--data-dir", str(data_dir)], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "DATABASE_URL": "", "CHATIQ_RATE_LIMITS": "off"})

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def wait_banner(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "with 2 workers" in self.output():
                return
            assert self.proc.poll() is None, self.output()
            time.sleep(0.1)
        raise AssertionError("no banner: " + self.output())

    def workers(self) -> set[int]:
        return children(self.proc.pid, "spawn_main")

    def stop(self) -> None:
        """Whatever the test did: end the tree gracefully, so PostgreSQL stops too."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="cqw", dir="/tmp"))  # short: PostgreSQL's socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)
    Path(f"{path}.log").unlink(missing_ok=True)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "65"])
def test_bad_worker_count_is_refused_clearly(value, data_dir):
    result = subprocess.run([sys.executable, "-m", "chatiq", "serve", f"--workers={value}",
                             "--data-dir", str(data_dir / "d")], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert f"argument --workers: must be a whole number from 1 to 64, got '{value}'" in result.stderr
    assert not (data_dir / "d").exists()  # refused before anything started


def test_port_taken_by_another_program(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = Supervised(data_dir, port)
        try:
            assert server.proc.wait(timeout=60) == 2
        finally:
            server.stop()
    out = server.output()
    assert f"chatiq: port {port} on 127.0.0.1 is not available" in out
    assert not (data_dir / "pg" / "postmaster.pid").exists()  # the database was stopped


async def _open_until_on_other_worker(chat: ChatHelper, site_key: str, port: int, workers: set[int],
                                      operator_pid: int):
    """SO_REUSEPORT spreads connections by hash: open visitors until one lands elsewhere."""
    extra = []
    for _ in range(40):
        v = await chat.visitor_ws(site_key)
        if serving_pid(v, port, workers) != operator_pid:
            return v, extra
        extra.append(v)
    raise AssertionError("every visitor landed on the operator's worker")


async def test_two_workers_chat_restart_a_crashed_one_and_stop_cleanly(data_dir):
    port = free_port()
    server = Supervised(data_dir, port)
    try:
        await asyncio.to_thread(server.wait_banner)
        workers = server.workers()
        assert len(workers) == 2
        helpers = children(server.proc.pid)  # the workers and multiprocessing's resource tracker
        pg = postmaster_pid(data_dir)
        assert alive(pg)

        async with aiohttp.ClientSession() as session:
            chat = ChatHelper(session, f"http://127.0.0.1:{port}")
            token, _ = await chat.register()
            site = await chat.create_site(token)
            op = await chat.operator_ws(token)
            op_pid = serving_pid(op, port, workers)
            v, extra = await _open_until_on_other_worker(chat, site["siteKey"], port, workers, op_pid)
            assert serving_pid(v, port, workers) != op_pid

            first = await chat.say(v, "hello from one worker")
            got = await recv_until(op, "visitor:message", timeout=10)
            assert got["data"]["message"]["id"] == first["id"]
            reply = await chat.reply(op, first["chatId"], "hello from the other")
            pushed = await recv_until(v, "admin:message", timeout=10)
            assert pushed["data"]["message"]["id"] == reply["id"]
            assert pushed["data"]["message"]["seq"] == first["seq"] + 1

            # A crashed worker is replaced; the port keeps answering meanwhile.
            crashed = next(iter(workers - {op_pid}))
            os.kill(crashed, signal.SIGKILL)
            for _ in range(300):
                now = server.workers()
                if len(now) == 2 and crashed not in now:
                    break
                await asyncio.sleep(0.1)
            assert len(now) == 2 and crashed not in now and op_pid in now
            assert "exited with code -9; restarting" in server.output()
            for sock in [v, *extra]:
                await sock.close()
            # The operator's worker never went away: the chat goes on with a new visitor tab.
            v2 = await chat.visitor_ws(site["siteKey"], visitorToken=v.session["visitorToken"])
            again = await chat.say(v2, "after the crash")
            assert again["seq"] == first["seq"] + 2
            got = await recv_until(op, "visitor:message", timeout=10)
            assert got["data"]["message"]["id"] == again["id"]
            helpers |= children(server.proc.pid)

            server.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(server.proc.wait, 60) == 0
            closed = await op.receive(timeout=5)
            assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1001
    finally:
        server.stop()
    # multiprocessing's resource tracker leaves when it reads EOF from the parent: soon after.
    for _ in range(50):
        if not any(alive(pid) for pid in helpers):
            break
        time.sleep(0.1)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in helpers if alive(pid)}
    assert not left, left
    assert not alive(pg)
    assert not (data_dir / "pg" / "postmaster.pid").exists()
    assert "stopping 2 workers" in server.output()
