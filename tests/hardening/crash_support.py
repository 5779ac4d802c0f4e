"""The crash harness's parts (issue 9): a real `chatiq serve` process that can be kill -9'ed,
and clients that keep an outbox, reconnect, resume by seq and resend, as the widget and panel do.

A client's view of each chat is a map seq → (message id, text); the test compares it with the
database at the end, so a lost event, a duplicate or two messages under one seq all show.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType

ROOT = Path(__file__).resolve().parents[2]
# Frames that carry a stored message, per side.
VISITOR_EVENTS = {"admin:message", "welcome:message", "auto-reply:sent", "visitor:message"}
OPERATOR_EVENTS = {"visitor:message", "operator:message"}


class ServerProcess:
    """`python -m chatiq serve` on a fixed port and database, started and killed at will."""

    def __init__(self, port: int, data_dir: Path, database_url: str):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self.env = {**os.environ, "DATABASE_URL": database_url, "CHATIQ_RATE_LIMITS": "off",
                    "CHATIQ_SECRET_KEY": "crash-harness-secret-" + "c" * 30}
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(f"{self.data_dir}.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatiq", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()

    async def healthy(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            assert self.proc.poll() is None, f"server exited with {self.proc.returncode}"
            try:
                async with session.get(self.url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.url} never became healthy")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, sockets drop, open transactions roll back."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Totals:
    produced: int = 0       # distinct messages created by clients
    sent: int = 0           # message frames written (first sends and resends)
    acks: int = 0           # acks received (a resent message may be acked twice)
    reconnects: int = 0
    duplicates: int = 0     # already-acked messages sent again
    operator_acks: int = 0


@dataclass
class Client:
    """One participant: an outbox of unacked messages and its view of every chat."""

    name: str
    url: str
    session: aiohttp.ClientSession
    rng: random.Random
    totals: Totals
    producing: bool = True
    burst: int = 6
    max_in_flight: int = 12
    outbox: dict[str, str] = field(default_factory=dict)        # clientId → text, until acked
    acked: dict[str, dict] = field(default_factory=dict)        # clientId → message from its ack
    chats: dict[str, dict[int, tuple]] = field(default_factory=dict)  # chatId → seq → (id, text)
    problems: list[str] = field(default_factory=list)           # anything a correct server never does
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False
    ws: aiohttp.ClientWebSocketResponse | None = None

    events = frozenset()
    frame_type = ""

    # --- what both sides do ---

    def resume_point(self, chat_id: str) -> int:
        """The highest seq below which this client has every message (resume from here)."""
        seen = self.chats.get(chat_id, {})
        n = 0
        while n + 1 in seen:
            n += 1
        return n

    def merge(self, message: dict) -> None:
        mine = self.chats.setdefault(message["chatId"], {})
        entry = (message["id"], message["text"])
        if mine.setdefault(message["seq"], entry) != entry:
            self.problems.append(f"{self.name}: seq {message['seq']} of {message['chatId']} was"
                                 f" {mine[message['seq']]} and then {entry}")

    def on_ack(self, cid: str, message: dict) -> None:
        self.totals.acks += 1
        earlier = self.acked.get(cid)
        if earlier is not None and earlier["id"] != message["id"]:
            self.problems.append(f"{self.name}: clientId {cid} acked as {earlier['id']} and "
                                 f"then {message['id']}")
        self.acked[cid] = message
        self.outbox.pop(cid, None)
        self.merge(message)

    async def run(self) -> None:
        """Connect, resend, produce; on any drop, back off briefly and do it again."""
        while not self.stopped:
            try:
                self.ws = await self.session.ws_connect(
                    self.url + self.path, timeout=aiohttp.ClientWSTimeout(ws_close=5))
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                await asyncio.sleep(self.rng.uniform(0.05, 0.2))
                continue
            try:
                if await self.hello():
                    self.connected.set()
                    await self.converse()
            except (aiohttp.ClientError, ConnectionError, RuntimeError, asyncio.TimeoutError):
                pass
            finally:
                self.connected.clear()
                await self.ws.close()
            if not self.stopped:
                self.totals.reconnects += 1
                await asyncio.sleep(self.rng.uniform(0.05, 0.2))

    async def converse(self) -> None:
        reader = asyncio.create_task(self.read())
        try:
            for cid, text in list(self.outbox.items()):  # the resend, same clientIds
                await self.send_message(cid, text)
            if self.acked:  # and one that was acked: the server must answer with the first copy
                cid = next(reversed(self.acked))
                self.totals.duplicates += 1
                await self.send_message(cid, self.acked[cid]["text"])
            while not reader.done():
                # A burst of a few messages without waiting for acks, then a pause.
                for _ in range(self.rng.randint(1, self.burst)):
                    if not (self.producing and len(self.outbox) < self.max_in_flight
                            and self.can_send()):
                        break
                    cid = uuid.uuid4().hex
                    self.outbox[cid] = self.outbox_text()
                    self.totals.produced += 1
                    await self.send_message(cid, self.outbox[cid])
                await asyncio.wait([reader], timeout=self.rng.uniform(0.05, 0.15))
            reader.result()
        finally:
            reader.cancel()

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                break
            self.on_frame(json.loads(msg.data))

    def on_frame(self, frame: dict) -> None:
        kind, data = frame["type"], frame.get("data") or {}
        if kind == "ack" and frame.get("ref") in self.outbox_or_acked():
            self.on_ack(frame["ref"], data["message"])
        elif kind == "error":
            self.problems.append(f"{self.name}: error {frame}")
        elif kind in self.events:
            self.merge(data["message"])

    def outbox_or_acked(self):
        return self.outbox.keys() | self.acked.keys()

    async def send_message(self, cid: str, text: str) -> None:
        self.totals.sent += 1
        await self.ws.send_json({"type": self.frame_type, "ref": cid,
                                 "data": self.message_data(cid, text)})

    def view(self, chat_id: str) -> dict[int, tuple]:
        return dict(self.chats.get(chat_id, {}))


class Visitor(Client):
    path = "/ws/widget"
    events = VISITOR_EVENTS
    frame_type = "visitor:message"

    def __init__(self, *args, site_key: str, **kw):
        super().__init__(*args, **kw)
        self.site_key = site_key
        self.token: str | None = None
        self.chat_id: str | None = None
        self.counter = 0

    async def hello(self) -> bool:
        join = {"siteKey": self.site_key}
        if self.token:
            join["visitorToken"] = self.token
            join["lastSeq"] = self.resume_point(self.chat_id) if self.chat_id else 0
        await self.ws.send_json({"type": "visitor:join", "data": join})
        while True:
            msg = await self.ws.receive(timeout=10)
            if msg.type != WSMsgType.TEXT:
                return False
            frame = json.loads(msg.data)
            if frame["type"] == "session":
                break
            self.on_frame(frame)
        session = frame["data"]
        if self.token is not None and session["visitorToken"] != self.token:
            self.problems.append(f"{self.name}: the server forgot visitor token {self.token}")
        self.token = session["visitorToken"]
        self.chat_id = session["chatId"] or self.chat_id
        for message in session["history"]:
            self.merge(message)
        return True

    def on_ack(self, cid: str, message: dict) -> None:
        self.chat_id = message["chatId"]
        super().on_ack(cid, message)

    def can_send(self) -> bool:
        return True

    def outbox_text(self) -> str:
        self.counter += 1
        return f"{self.name} #{self.counter}"

    def message_data(self, cid: str, text: str) -> dict:
        return {"clientId": cid, "text": text}


class Operator(Client):
    path = "/ws/operator"
    events = OPERATOR_EVENTS
    frame_type = "operator:message"

    def __init__(self, *args, token: str, **kw):
        super().__init__(*args, **kw)
        self.token = token
        self.targets: dict[str, str] = {}  # clientId → the chat it is meant for
        self.counter = 0

    async def hello(self) -> bool:
        await self.ws.send_json({"type": "auth", "data": {"token": self.token}})
        while True:
            msg = await self.ws.receive(timeout=10)
            if msg.type != WSMsgType.TEXT:
                return False
            frame = json.loads(msg.data)
            if frame["type"] == "operator:ready":
                break
            self.on_frame(frame)
        for chat in frame["data"]["chats"]:
            self.chats.setdefault(chat["id"], {})
        # Resume every chat from where this client's view has no gap; live events that
        # arrive meanwhile are merged by seq, so the order of the two does not matter.
        pending = {}
        for chat_id in list(self.chats):
            ref = "sub-" + uuid.uuid4().hex
            pending[ref] = chat_id
            await self.ws.send_json({"type": "chat:subscribe", "ref": ref, "data": {
                "chatId": chat_id, "lastSeq": self.resume_point(chat_id)}})
        while pending:
            msg = await self.ws.receive(timeout=10)
            if msg.type != WSMsgType.TEXT:
                return False
            frame = json.loads(msg.data)
            if frame.get("ref") in pending:
                pending.pop(frame["ref"])
                if frame["type"] != "ack":
                    self.problems.append(f"{self.name}: subscribe refused {frame}")
                    continue
                for message in frame["data"]["messages"]:
                    self.merge(message)
            else:
                self.on_frame(frame)
        return True

    def on_frame(self, frame: dict) -> None:
        if frame["type"] == "chat:new":
            self.chats.setdefault(frame["data"]["chat"]["id"], {})
        super().on_frame(frame)

    def on_ack(self, cid: str, message: dict) -> None:
        self.totals.operator_acks += 1
        super().on_ack(cid, message)

    def can_send(self) -> bool:
        return bool(self.chats)

    def outbox_text(self) -> str:
        self.counter += 1
        return f"{self.name} reply #{self.counter}"

    def message_data(self, cid: str, text: str) -> dict:
        if cid not in self.targets:
            self.targets[cid] = self.rng.choice(sorted(self.chats))
        return {"chatId": self.targets[cid], "clientId": cid, "text": text}
