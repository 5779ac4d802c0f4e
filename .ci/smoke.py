"""Smoke check of an installed ChatIQ, run with the python of the venv it is installed in:
`chatiq serve` on a fresh data dir, one visitor ↔ operator round trip, SIGTERM, clean stop.

Only the standard library and aiohttp (a dependency of ChatIQ), so a bare `pip install .`
is enough. Prints one line when it passes; the reason and the server's log when it fails
(an ERROR or a traceback in that log fails it too).
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

HEALTHY_WITHIN = 120.0   # seconds; a first start initialises PostgreSQL (~2 s here)
FRAME_WITHIN = 10.0
STOP_WITHIN = 40.0       # the server's own shutdown limit is 20 s


class SmokeFailure(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_healthy(http: aiohttp.ClientSession, base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + HEALTHY_WITHIN
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SmokeFailure(f"chatiq serve exited with {server.returncode}"
                               " before it was healthy")
        try:
            async with http.get(base + "/healthz") as resp:
                if resp.status == 200 and (await resp.json()) == {"status": "ok"}:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise SmokeFailure(f"/healthz not healthy within {HEALTHY_WITHIN:.0f} s")


async def frame(ws, ftype: str, ref: str | None = None) -> dict:
    """The next frame of `ftype` (with `ref`, if given); an error answering `ref` fails."""
    deadline = time.monotonic() + FRAME_WITHIN
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SmokeFailure(f"no {ftype} frame within {FRAME_WITHIN:.0f} s")
        msg = await ws.receive(timeout=remaining)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise SmokeFailure(f"waiting for {ftype}, the socket gave {msg.type.name} "
                               f"(close code {ws.close_code})")
        data = msg.json()
        if ref is not None and data.get("ref") == ref and data["type"] == "error":
            raise SmokeFailure(f"{ftype} refused: {data['data']}")
        if data["type"] == ftype and (ref is None or data.get("ref") == ref):
            return data


async def post(http: aiohttp.ClientSession, url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(url, json=body, headers=headers) as resp:
        if resp.status != 201:
            raise SmokeFailure(f"POST {url}: {resp.status} {await resp.text()}")
        return await resp.json()


async def round_trip(http: aiohttp.ClientSession, base: str) -> None:
    """Sign up, create a site; the visitor writes, the operator sees it and answers, the
    visitor sees the answer."""
    owner = await post(http, base + "/api/v1/auth/register", {
        "email": f"smoke-{uuid.uuid4().hex[:8]}@example.com", "password": "smoke check 1",
        "name": "Smoke", "organization": "Smoke test"})
    site = (await post(http, base + "/api/v1/sites", {"name": "Smoke"}, owner["token"]))["site"]
    ws = base.replace("http://", "ws://")
    async with http.ws_connect(ws + "/ws/operator") as operator, \
            http.ws_connect(ws + "/ws/widget") as visitor:
        await operator.send_json({"type": "auth", "data": {"token": owner["token"]}})
        await frame(operator, "operator:ready")
        await visitor.send_json({"type": "visitor:join", "data": {"siteKey": site["siteKey"]}})
        await frame(visitor, "session")

        await visitor.send_json({"type": "visitor:message", "ref": "v1",
                                 "data": {"clientId": uuid.uuid4().hex, "text": "hello?"}})
        await frame(visitor, "ack", "v1")
        seen = (await frame(operator, "visitor:message"))["data"]["message"]
        if seen["text"] != "hello?":
            raise SmokeFailure(f"the operator got {seen!r}")
        await operator.send_json({"type": "operator:message", "ref": "o1", "data": {
            "chatId": seen["chatId"], "clientId": uuid.uuid4().hex, "text": "hello!"}})
        await frame(operator, "ack", "o1")
        answer = (await frame(visitor, "admin:message"))["data"]["message"]
        if answer["text"] != "hello!":
            raise SmokeFailure(f"the visitor got {answer!r}")


def stop(server: subprocess.Popen) -> int:
    server.send_signal(signal.SIGTERM)
    try:
        return server.wait(STOP_WITHIN)
    except subprocess.TimeoutExpired:
        server.kill()
        raise SmokeFailure(f"chatiq serve did not stop within {STOP_WITHIN:.0f} s"
                           " of SIGTERM") from None


async def check(chatiq: Path, data_dir: Path, log_path: Path) -> str:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    started = time.monotonic()
    with open(log_path, "wb") as out:
        # From the data dir, not the checkout: the installed package is what runs.
        server = subprocess.Popen([str(chatiq), "serve", "--data-dir", str(data_dir),
                                   "--port", str(port)],
                                  cwd=data_dir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            await wait_healthy(http, base, server)
            healthy = time.monotonic() - started
            started = time.monotonic()
            await round_trip(http, base)
            trip = time.monotonic() - started
    finally:
        stopping = time.monotonic()
        code = server.poll()
        if code is None:
            code = stop(server)
    stopped = time.monotonic() - stopping
    if code != 0:
        raise SmokeFailure(f"chatiq serve exited with {code} after SIGTERM")
    if (data_dir / "pg" / "postmaster.pid").exists():
        raise SmokeFailure("PostgreSQL was left running after the stop")
    log = log_path.read_text(errors="replace")
    if "Traceback" in log or " ERROR " in log:
        raise SmokeFailure("chatiq serve logged an error or a traceback")
    running = re.search(r"embedded PostgreSQL (\d+) running", log)
    postgres = running.group(1) if running else "?"
    return (f"Python {platform.python_version()}, PostgreSQL {postgres},"
            f" healthy {healthy:.1f} s after start, round trip {trip:.2f} s,"
            f" stopped with exit code 0 in {stopped:.1f} s")


def main() -> int:
    chatiq = Path(sys.executable).parent / ("chatiq.exe" if os.name == "nt" else "chatiq")
    if not chatiq.exists():
        print(f"smoke FAILED: no chatiq command beside {sys.executable}: is ChatIQ installed here?")
        return 1
    data_dir = Path(tempfile.mkdtemp(prefix="cqs", dir="/tmp"))  # short: the socket lives in pg/
    log_path = data_dir.parent / (data_dir.name + ".log")
    try:
        summary = asyncio.run(check(chatiq, data_dir, log_path))
    except (SmokeFailure, OSError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
        print(f"smoke FAILED on Python {platform.python_version()}: {exc or type(exc).__name__}")
        print("---- chatiq serve's output, last 40 lines ----")
        lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
        print("\n".join(lines[-40:]))
        return 1
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        log_path.unlink(missing_ok=True)
    print(f"smoke ok: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
