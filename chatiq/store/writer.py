"""Group commit: messages that arrive together are stored in one transaction.

One COMMIT (one WAL flush) per batch instead of one per message. Each message still
gets its seq under its chat's row lock inside that transaction, and no caller hears
back before the batch's COMMIT has returned.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from dataclasses import dataclass

import psycopg2

from chatiq.store import db
from chatiq.store.chats import MESSAGE_SELECT, EventHook, Posted, notify_stored
from chatiq.store.mail import enqueue_missed

log = logging.getLogger(__name__)

# One round trip per message. `dup` sees an earlier copy with the same clientId;
# `claim` takes the attachment only for a new message; `bump` assigns the seq (reopens
# a visitor's closed chat, and gives an unassigned chat to the operator answering it);
# `ins` stores the message. A copy committed by
# another transaction at the same moment makes `ins` do nothing: see _undo_bump.
_STORE = """
WITH prev AS (
    SELECT id, status, site_id, assigned_to FROM chats WHERE id = %(c)s FOR UPDATE
), dup AS (
    SELECT 1 FROM messages WHERE %(cid)s::text IS NOT NULL AND author_kind = %(k)s
       AND author_id = %(a)s AND client_id = %(cid)s
), claim AS (
    UPDATE attachments SET used = true, chat_id = %(c)s
     WHERE %(att)s::text IS NOT NULL AND id = %(att)s AND NOT used
       AND uploader_kind = %(k)s AND uploader_id = %(a)s
       AND site_id = (SELECT site_id FROM prev) AND NOT EXISTS (SELECT 1 FROM dup)
    RETURNING id
), bump AS (
    UPDATE chats c SET last_seq = c.last_seq + 1, updated_at = now(),
           status = CASE WHEN %(reopen)s THEN 'open' ELSE c.status END,
           closed_at = CASE WHEN %(reopen)s THEN NULL ELSE c.closed_at END,
           assigned_to = CASE WHEN %(k)s = 'operator' THEN COALESCE(c.assigned_to, %(a)s)
                              ELSE c.assigned_to END
      FROM prev
     WHERE c.id = prev.id AND NOT EXISTS (SELECT 1 FROM dup)
       AND (%(att)s::text IS NULL OR EXISTS (SELECT 1 FROM claim))
    RETURNING c.id, c.last_seq, prev.status AS prev_status,
              (%(k)s = 'operator' AND prev.assigned_to IS NULL) AS took
), ins AS (
    INSERT INTO messages (chat_id, seq, client_id, author_kind, author_id, text, attachment_id)
    SELECT id, last_seq, %(cid)s, %(k)s, %(a)s, %(t)s, %(att)s FROM bump
    ON CONFLICT (author_kind, author_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING id
)
SELECT (SELECT id FROM ins) AS message_id, (SELECT last_seq FROM bump) AS seq,
       (SELECT prev_status FROM bump) AS prev_status,
       EXISTS (SELECT 1 FROM claim) AS claimed, (SELECT site_id FROM prev) AS site_id,
       (SELECT took FROM bump) AS took
"""

# _STORE as a prepared statement: parsed and planned once per connection, and the
# text psycopg2 formats per message shrinks from ~1.5 KB to one short line.
_PARAMS = ("c", "cid", "k", "a", "t", "att", "reopen")
_PREPARE = "PREPARE chatiq_store (bigint, text, text, bigint, text, text, boolean) AS " + _STORE
for _n, _name in enumerate(_PARAMS, 1):
    _PREPARE = _PREPARE.replace(f"%({_name})s", f"${_n}")
_EXECUTE = "EXECUTE chatiq_store (" + ", ".join(f"%({n})s" for n in _PARAMS) + ")"

# The seq was bumped but the insert met a concurrent copy: hand the number back.
# We still hold the chat's row lock, so nobody took a later seq in between.
_UNDO_BUMP = "UPDATE chats SET last_seq = last_seq - 1 WHERE id = %(c)s"
_UNDO_CLAIM = "UPDATE attachments SET used = false, chat_id = NULL WHERE id = %(att)s"

_EXISTING = (MESSAGE_SELECT + " WHERE m.author_kind = %(k)s AND m.author_id = %(a)s"
                              " AND m.client_id = %(cid)s")


@dataclass
class _Item:
    params: dict
    future: asyncio.Future
    message_id: int | None = None
    prev_status: str | None = None
    site_id: int | None = None
    took: bool = False  # an operator's message that made its author the chat's assignee


class MessageWriter:
    """Queues message writes and stores each queue-full in one transaction.

    Several lanes run side by side, each on its own connection, so one batch's
    round trips overlap another's. A chat always maps to the same lane: two lanes
    never wait on each other's chat row locks, so they cannot deadlock, and one
    chat's messages keep their order.
    """

    def __init__(self, pool, *, node: str | None = None, lanes: int = 4, max_batch: int = 200,
                 on_event: EventHook | None = None):
        self.pool = pool
        self.node = node  # named in the batch's NOTIFY, so this process skips its own
        self.on_event = on_event  # told of each stored message inside its batch's transaction
        self.max_batch = max_batch
        # lane number → its queue of messages waiting for the next batch
        self._queues: list[deque[_Item]] = [deque() for _ in range(lanes)]
        self._wakes = [asyncio.Event() for _ in range(lanes)]
        self._tasks: list[asyncio.Task] = []
        # pool connections that have _PREPARE'd (a reconnected one is a new object)
        self._prepared: weakref.WeakSet = weakref.WeakSet()
        self.batches = 0  # counters for tests and benchmarks
        self.messages = 0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(n)) for n in range(len(self._queues))]

    async def stop(self, grace: float = 10.0) -> None:
        """Finish what is queued (for at most `grace` seconds), then stop."""
        deadline = asyncio.get_running_loop().time() + grace
        while any(self._queues) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self._tasks, timeout=3.0)
        if stuck:
            log.warning("%d writer lanes did not stop in time", len(stuck))
        self._tasks = []

    async def post(self, *, chat_id: int, author_kind: str, author_id: int, client_id: str | None,
                   text: str, attachment_id: str | None = None, reopen: bool = False) -> Posted:
        """Store one message in an existing chat; answered after its batch commits."""
        if not self._tasks:
            raise RuntimeError("MessageWriter.start() was not called")
        future = asyncio.get_running_loop().create_future()
        # Mark a failure as seen even when the caller has gone away meanwhile.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        lane = chat_id % len(self._queues)
        self._queues[lane].append(_Item({"c": chat_id, "k": author_kind, "a": author_id,
                                         "cid": client_id, "t": text, "att": attachment_id,
                                         "reopen": reopen}, future))
        self._wakes[lane].set()
        # If the caller goes away, the message is still stored: a resend finds it.
        return await asyncio.shield(future)

    async def _run(self, lane: int) -> None:
        queue, wake = self._queues[lane], self._wakes[lane]
        while True:
            await wake.wait()
            wake.clear()
            while queue:
                batch = [queue.popleft() for _ in range(min(self.max_batch, len(queue)))]
                try:
                    await self._store(batch)
                except Exception as exc:  # a bug must not stop the lane for everyone after
                    log.exception("storing a batch failed")
                    for item in batch:
                        _fail(item, db.StoreError(f"message could not be stored: {exc}"))

    async def _store(self, batch: list[_Item]) -> None:
        try:
            rows = await self._transaction(batch)
        except db.DatabaseUnavailable as exc:
            for item in batch:
                _fail(item, exc)
            return
        except psycopg2.Error:
            # One bad message must not sink its neighbours: store them one by one.
            log.exception("a batch of %d messages failed; retrying them one at a time",
                          len(batch))
            for item in batch:
                try:
                    single = await self._transaction([item])
                except Exception as exc:  # noqa: BLE001 - answered to that caller only
                    _fail(item, exc if isinstance(exc, db.StoreError)
                          else db.StoreError("message could not be stored"))
                else:
                    await self._answer([item], single)
            return
        await self._answer(batch, rows)

    async def _transaction(self, batch: list[_Item]) -> dict[int, dict]:
        for item in batch:
            item.message_id = item.prev_status = None
            item.took = False
        async with db.transaction(self.pool) as cur:
            if cur.connection not in self._prepared:
                await cur.execute(_PREPARE)
                self._prepared.add(cur.connection)
            for item in batch:
                await cur.execute(_EXECUTE, item.params)
                row = await cur.fetchone()
                if row["message_id"] is not None:
                    item.message_id, item.prev_status = row["message_id"], row["prev_status"]
                    item.site_id, item.took = row["site_id"], bool(row["took"])
                elif row["seq"] is not None:
                    await cur.execute(_UNDO_BUMP, item.params)
                    if row["claimed"]:
                        await cur.execute(_UNDO_CLAIM, item.params)
            ids = [i.message_id for i in batch if i.message_id is not None]
            rows = {}
            if ids:
                await cur.execute(MESSAGE_SELECT + " WHERE m.id = ANY(%(ids)s)", {"ids": ids})
                rows = {r["id"]: r for r in await cur.fetchall()}
                if self.on_event is not None:
                    for item in batch:
                        if item.message_id is not None:
                            await self.on_event(cur, "message.created", item.site_id,
                                                {"message": rows[item.message_id]})
                # One NOTIFY per batch (ids only): NOTIFY serialises commits, so
                # one per message would cap the whole server's rate.
                await notify_stored(cur, self.node,
                                    [(r["chat_id"], r["seq"]) for r in rows.values()])
                # A visitor now waiting on the team starts the missed-chat email's clock.
                waiting = {r["chat_id"] for r in rows.values() if r["author_kind"] == "visitor"}
                if waiting:
                    await enqueue_missed(cur, sorted(waiting))
        self.batches += 1
        self.messages += len(ids)
        return rows

    async def _answer(self, batch: list[_Item], rows: dict[int, dict]) -> None:
        for item in batch:
            if item.future.done():
                continue
            if item.message_id is not None:
                item.future.set_result(Posted(rows[item.message_id], True,
                                              chat_reopened=item.prev_status == "closed",
                                              assigned=item.took))
                continue
            # Nothing stored: an earlier copy, or a refused attachment or chat.
            try:
                found = None
                if item.params["cid"] is not None:
                    found = await db.fetchone(self.pool, _EXISTING, item.params)
            except db.StoreError as exc:
                _fail(item, exc)
                continue
            if found is not None:
                item.future.set_result(Posted(found, created=False))
            elif item.params["att"] is not None:
                _fail(item, db.NotFound("attachment not found"))
            else:
                _fail(item, db.NotFound("chat not found"))


def _fail(item: _Item, exc: Exception) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
