"""Cross-process fan-out through PostgreSQL LISTEN/NOTIFY: no broker but the database.

Stored messages travel as (chat, seq) ids, one NOTIFY per committed batch; each
process loads them and hands them to its own peers. Ephemeral events (typing,
settings, chat updates) travel as their encoded frame; presence as a periodic
report per process. A process that loses its LISTEN connection reconnects and
replays from the database every message it may have missed, skipping what it
already delivered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from chatiq.core import fanout
from chatiq.core.hub import Hub
from chatiq.core.fanout import Posted
from chatiq.store import chats as chat_store
from chatiq.store import notify as channel

log = logging.getLogger(__name__)

MAX_PAYLOAD = 7900          # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
HEARTBEAT_SECONDS = 5.0     # how soon a dead LISTEN connection is noticed
PRESENCE_SECONDS = 5.0      # how often each process reports its operators
PRESENCE_TTL = 15.0         # a process silent this long is taken as gone
REPLAY_MARGIN_SECONDS = 5.0  # messages' created_at is their transaction's start, not commit
# A process that has heard no other for this long stops relaying (a single process paid a
# NOTIFY for every typing event); twice the presence period, so a starting process hears
# the others first.
ALONE_AFTER_SECONDS = 2 * PRESENCE_SECONDS + 1
STASH_TTL_SECONDS = 60.0    # a stashed large event is read within seconds, or never


class Bus:
    def __init__(self, hub: Hub, pool, dsn: str, node: str):
        self.hub = hub
        self.pool = pool
        self.dsn = dsn
        self.node = node
        self._outbox: deque[str] = deque()   # payloads waiting to be NOTIFY'd, in order
        self._wake = asyncio.Event()
        self._presence_due = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        # node → when its last presence report arrived (monotonic)
        self._nodes_seen: dict[str, float] = {}
        self._last_ok: float | None = None  # database clock at the last healthy heartbeat
        self.connected = asyncio.Event()    # set while LISTEN is up (tests wait on it)
        self._listen_conn = None            # the dedicated LISTEN connection, while open
        self.replays = 0
        # topic → what to call with a `signal`'s data when another process sends one
        self.handlers: dict[str, Callable[[dict], Awaitable[None]]] = {}
        self._handling: set[asyncio.Task] = set()  # handler calls and stashes running now
        self._started = time.monotonic()
        self._pruned = time.monotonic()

    async def start(self) -> None:
        self.hub.relay = self.publish
        self._presence_due.set()  # say who is here at once: the others learn of us
        self._tasks = [asyncio.create_task(self._listen_loop()),
                       asyncio.create_task(self._publish_loop()),
                       asyncio.create_task(self._presence_loop())]

    async def stop(self) -> None:
        self.hub.relay = None
        try:
            await asyncio.wait_for(self._notify([json.dumps({"n": self.node, "t": "bye"})]), 2.0)
        except Exception:  # the database may be gone already; others expire us by TTL
            pass
        for task in self._tasks:
            task.cancel()
        if self._listen_conn is not None and not self._listen_conn.closed:
            self._listen_conn.close()  # wakes a LISTEN wait stuck inside aiopg
        # Bounded: a task whose cancellation is swallowed deep in a driver call must
        # not hold the whole shutdown (seen once in CI under heavy load).
        _, stuck = await asyncio.wait(self._tasks, timeout=3.0)
        if stuck:
            log.warning("%d bus tasks did not stop in time", len(stuck))

    # --- sending ---

    def publish(self, route: str, key: int, text: str) -> None:
        """Hub relay hook: queue an ephemeral event for the other processes."""
        if route == "presence":
            self._presence_due.set()
            return
        if self._alone():
            return  # nobody else listens: nothing to relay
        payload = json.dumps({"n": self.node, "r": route, "k": key, "f": text},
                             ensure_ascii=False, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD:
            self._stash(payload)  # too large for NOTIFY: relayed by id
            return
        self._outbox.append(payload)
        self._wake.set()

    def _alone(self) -> bool:
        """No other process has reported for a while (and we have listened long enough to
        have heard one): relaying would only cost a NOTIFY nobody reads."""
        return not self._nodes_seen and time.monotonic() - self._started > ALONE_AFTER_SECONDS

    def _stash(self, payload: str) -> None:
        task = asyncio.get_running_loop().create_task(channel.stash(self.pool, self.node, payload))
        self._handling.add(task)
        task.add_done_callback(self._stashed)

    def _stashed(self, task: asyncio.Task) -> None:
        self._handling.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not relay a large event to other processes: %s", task.exception())

    def signal(self, topic: str, data: dict) -> None:
        """Tell the other processes that something they cache changed (e.g. a site's
        business hours); their `handlers[topic]` reload it. Best effort, like typing:
        caches that matter also expire on their own or are rebuilt at start-up."""
        self._outbox.append(json.dumps({"n": self.node, "t": "s", "s": topic, "d": data},
                                       separators=(",", ":")))
        self._wake.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(100, len(self._outbox)))]
                try:
                    await self._notify(batch)
                except Exception:
                    # Ephemeral (typing, presence): a lost one is superseded by the next.
                    log.warning("could not relay %d events to other processes", len(batch))

    async def _notify(self, payloads: list[str]) -> None:
        await channel.notify(self.pool, payloads)

    async def _presence_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._presence_due.wait(), PRESENCE_SECONDS)
            except asyncio.TimeoutError:
                pass
            self._presence_due.clear()
            if time.monotonic() - self._pruned > STASH_TTL_SECONDS:
                self._pruned = time.monotonic()
                try:
                    await channel.prune_stash(self.pool, STASH_TTL_SECONDS)
                except Exception:  # best effort; the next round tries again
                    log.warning("could not prune the bus stash")
            report = {str(u): [status, sorted(sites)]
                      for u, (status, sites) in self.hub.local_presence().items()}
            self._outbox.append(json.dumps({"n": self.node, "t": "p", "o": report},
                                           separators=(",", ":")))
            self._wake.set()
            now = time.monotonic()
            for node, seen in list(self._nodes_seen.items()):
                if now - seen > PRESENCE_TTL:
                    del self._nodes_seen[node]
                    self._presence_changed(node, None)

    # --- receiving ---

    async def _listen_loop(self) -> None:
        backoff = 0.1
        lost_since: float | None = None
        while True:
            conn = None
            try:
                conn, cur = await channel.listen(self.dsn, self.node)
                self._listen_conn = conn
                self._last_ok = await channel.heartbeat(cur)
                if lost_since is not None:
                    await self.replay(lost_since - REPLAY_MARGIN_SECONDS)
                    lost_since = None
                self.connected.set()
                backoff = 0.1
                await self._receive(conn, cur)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, database down
                self.connected.clear()
                if lost_since is None and self._last_ok is not None:
                    lost_since = self._last_ok
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(5.0, backoff * 2)
            finally:
                self._listen_conn = None
                if conn is not None and not conn.closed:
                    conn.close()

    async def _receive(self, conn, cur) -> None:
        # asyncio.wait rather than wait_for: cancelling wait_for waits for aiopg's
        # queue getter to finish cancelling, which it never does, and shutdown hangs.
        getter = None
        try:
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(conn.notifies.get())
                done, _ = await asyncio.wait({getter}, timeout=HEARTBEAT_SECONDS)
                if not done:
                    self._last_ok = await channel.heartbeat(cur)
                    continue
                note, getter = getter.result(), None
                await self._on_notify(note.payload)
        finally:
            if getter is not None:
                getter.cancel()

    async def _on_notify(self, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        node = event.get("n")
        if node == self.node:
            return
        if "x" in event:  # a large event, stashed: read it by id
            stashed = await channel.unstash(self.pool, int(event["x"]))
            if stashed is None:
                return
            try:
                event = json.loads(stashed)
            except ValueError:
                return
        if "m" in event:
            await self._deliver_messages([tuple(p) for p in event["m"]], event.get("c") or [])
        elif "r" in event:
            self.hub.deliver(event["r"], int(event["k"]), event["f"])
        elif event.get("t") == "p":
            if node not in self._nodes_seen:
                # A process we did not know: tell it who is here now, not in five seconds.
                self._presence_due.set()
            self._nodes_seen[node] = time.monotonic()
            operators = {int(u): (status, frozenset(sites))
                         for u, (status, sites) in event.get("o", {}).items()}
            self._presence_changed(node, operators)
        elif event.get("t") == "bye":
            self._nodes_seen.pop(node, None)
            self._presence_changed(node, None)
        elif event.get("t") == "s":
            handler = self.handlers.get(event.get("s"))
            if handler is not None:  # in its own task: a reload's query never holds LISTEN
                task = asyncio.create_task(self._handle(event.get("s"), handler,
                                                        event.get("d") or {}))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)

    @staticmethod
    async def _handle(topic: str, handler, data: dict) -> None:
        try:
            await handler(data)
        except Exception:
            log.exception("bus: %s signal handler failed", topic)

    def _presence_changed(self, node: str, operators) -> None:
        before = dict(self.hub.remote_operators.get(node, {}))
        affected = self.hub.set_remote_presence(node, operators)
        if affected:
            fanout.remote_presence_changed(self.hub, before, operators or {}, affected)

    async def _deliver_messages(self, pairs: list[tuple[int, int]], new_chats: list) -> None:
        if not (self.hub.chat_visitors or self.hub.site_operators):
            return  # nobody here to tell
        for chat_id in new_chats:
            row = await chat_store.chat_row(self.pool, int(chat_id))
            if row is not None:
                fanout.chat_new(self.hub, row)
        fresh = [p for p in pairs if p not in self.hub.delivered]
        if fresh:
            self._fan_out(await chat_store.messages_by_pairs(self.pool, fresh))

    def _fan_out(self, rows: list[dict]) -> None:
        for row in rows:
            if row["author_kind"] == "visitor":
                # This process's tabs of the visitor join a chat created elsewhere.
                self.hub.attach_chat(row["author_id"], row["chat_id"])
            fanout.stored(self.hub, Posted(row, True, site_id=row["site_id"]), sender=None)

    async def replay(self, since_epoch: float) -> None:
        """Deliver what was stored since `since_epoch` in chats someone here watches."""
        rows = await chat_store.messages_since(
            self.pool, since_epoch, chat_ids=list(self.hub.chat_visitors),
            site_ids=list(self.hub.site_operators))
        self.replays += 1
        self._fan_out(rows)
        log.info("replayed %d messages after a LISTEN reconnect", len(rows))
