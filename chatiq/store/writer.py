"""The one write path for chat messages: group commit with one set-based statement per batch.

Every message — a visitor's first or later one, an operator's, a bot's — is posted here.
Messages that arrive together are stored by one statement (arrays in, `unnest`), in one
transaction with one NOTIFY and one COMMIT: PostgreSQL assigns each chat's seqs in arrival
order, claims attachments, skips clientId duplicates and returns every row. Nobody hears
back before the batch's COMMIT has returned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import psycopg2
import psycopg2.extensions

from chatiq.core.fanout import Posted
from chatiq.store import db
from chatiq.store.chats import CHAT_SELECT, EventHook
from chatiq.store.mail import ENQUEUE_MISSED
from chatiq.store.notify import EVENTS_CHANNEL

log = logging.getLogger(__name__)

# Told after each committed batch: (messages stored, seconds from taking a connection to
# COMMIT, how many of each author kind were new). core/metrics.py listens here.
BatchObserver = Callable[[int, float, Mapping[str, int]], None]


class Guard(Protocol):
    """A condition checked inside the batch's transaction, under the chat's row lock
    (an auto-reply's once-only mark): it decides whether, and what, to store."""

    async def check(self, cur) -> str | None:
        """The text to store, or None to store nothing."""

    async def stored(self, cur, message: dict) -> None:
        """The message is stored (same transaction): link it where it belongs."""


@dataclass(frozen=True, slots=True)
class Post:
    """One message to store."""

    author_kind: str                 # visitor | operator | bot | system
    author_id: int | None            # None for bot and system messages
    text: str
    chat_id: int | None = None       # None: the visitor's current chat, created if none
    client_id: str | None = None     # the author's idempotency key
    attachment_id: str | None = None
    reopen: bool = False             # a visitor writing in a closed chat reopens it
    guard: Guard | None = None


# Visitors' chats for posts that named none: the row lock on each visitor makes two tabs'
# first messages share one chat (the second statement runs with a snapshot taken after the
# lock, so it sees a chat another transaction created meanwhile).
_VISITOR_CHATS = """
SELECT id FROM visitors WHERE id = ANY(%(v)s) ORDER BY id FOR UPDATE;
WITH latest AS (
    SELECT DISTINCT ON (visitor_id) visitor_id, id FROM chats
     WHERE visitor_id = ANY(%(v)s) ORDER BY visitor_id, id DESC
), made AS (
    INSERT INTO chats (site_id, visitor_id)
    SELECT v.site_id, v.id FROM visitors v
     WHERE v.id = ANY(%(v)s) AND NOT EXISTS (SELECT 1 FROM latest l WHERE l.visitor_id = v.id)
    RETURNING visitor_id, id
)
SELECT visitor_id, id, true AS created FROM made
UNION ALL SELECT visitor_id, id, false FROM latest
"""

# The batch, as parallel arrays (one element per post, `ord` its place in the batch):
#   locked   the batch's chats, row-locked in id order (two lanes never deadlock);
#   dup      posts whose clientId was stored before (answered with that copy);
#   fresh    the rest, less a second copy of one clientId or attachment inside the batch;
#   claim    attachments taken: unused, by their uploader, for the chat's site (an
#            operator's upload made without a chat has no site until now);
#   ok       what gets stored, numbered per chat in arrival order from the chat's last seq,
#            so a refused post leaves no gap;
#   bump     each chat's last seq; a visitor's post reopens a closed chat, and the first
#            operator to answer an unassigned chat takes it.
_STORE = """
WITH input AS (
    SELECT * FROM unnest(%(c)s::bigint[], %(k)s::text[], %(a)s::bigint[], %(cid)s::text[],
                         %(t)s::text[], %(att)s::text[], %(re)s::boolean[])
           WITH ORDINALITY AS i(chat_id, kind, author, cid, body, att, reopen, ord)
), locked AS (
    SELECT c.id, c.site_id, c.status, c.assigned_to, c.last_seq FROM chats c
     WHERE c.id IN (SELECT chat_id FROM input) ORDER BY c.id FOR UPDATE
), dup AS (
    SELECT i.ord, m.id FROM input i JOIN messages m
        ON m.author_kind = i.kind AND m.author_id = i.author AND m.client_id = i.cid
     WHERE i.cid IS NOT NULL
), fresh AS (
    SELECT i.* FROM input i JOIN locked l ON l.id = i.chat_id
     WHERE NOT EXISTS (SELECT 1 FROM dup WHERE dup.ord = i.ord)
       AND (i.cid IS NULL OR i.ord = (SELECT min(j.ord) FROM input j WHERE j.kind = i.kind
                                        AND j.author = i.author AND j.cid = i.cid))
       AND (i.att IS NULL OR i.ord = (SELECT min(j.ord) FROM input j WHERE j.att = i.att))
), claim AS (
    UPDATE attachments a SET used = true, chat_id = f.chat_id, site_id = l.site_id
      FROM fresh f JOIN locked l ON l.id = f.chat_id
     WHERE a.id = f.att AND NOT a.used AND a.uploader_kind = f.kind
       AND a.uploader_id = f.author AND (a.site_id = l.site_id OR a.site_id IS NULL)
    RETURNING f.ord
), ok AS (
    SELECT f.*, l.last_seq + row_number() OVER (PARTITION BY f.chat_id ORDER BY f.ord) AS seq
      FROM fresh f JOIN locked l ON l.id = f.chat_id
     WHERE f.att IS NULL OR f.ord IN (SELECT ord FROM claim)
), ins AS (
    INSERT INTO messages (chat_id, seq, client_id, author_kind, author_id, text, attachment_id)
    SELECT chat_id, seq, cid, kind, author, body, att FROM ok ORDER BY ord
    ON CONFLICT (author_kind, author_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING id, chat_id, seq, client_id, author_kind, author_id, text, reactions,
              created_at, read_at, attachment_id
), per_chat AS (
    SELECT chat_id, count(*) AS n, min(ord) FILTER (WHERE reopen) AS reopen_ord,
           (array_agg(author ORDER BY ord) FILTER (WHERE kind = 'operator'))[1] AS operator,
           min(ord) FILTER (WHERE kind = 'operator') AS operator_ord
      FROM ok GROUP BY chat_id
), bump AS (
    UPDATE chats c SET last_seq = c.last_seq + p.n, updated_at = now(),
           status = CASE WHEN p.reopen_ord IS NOT NULL THEN 'open' ELSE c.status END,
           closed_at = CASE WHEN p.reopen_ord IS NOT NULL THEN NULL ELSE c.closed_at END,
           assigned_to = COALESCE(c.assigned_to, p.operator)
      FROM per_chat p WHERE c.id = p.chat_id
    RETURNING c.id
), answer AS (  -- each post's message: the one stored now, or the earlier copy
    SELECT ok.ord, ins.id, ins.chat_id, ins.seq, ins.client_id, ins.author_kind,
           ins.author_id, ins.text, ins.reactions, ins.created_at, ins.read_at,
           ins.attachment_id, true AS created
      FROM ins JOIN ok ON ok.chat_id = ins.chat_id AND ok.seq = ins.seq
    UNION ALL
    SELECT dup.ord, m.id, m.chat_id, m.seq, m.client_id, m.author_kind, m.author_id, m.text,
           m.reactions, m.created_at, m.read_at, m.attachment_id, false
      FROM dup JOIN messages m ON m.id = dup.id
)
SELECT i.ord AS w_ord, i.chat_id AS w_chat_id, l.site_id AS w_site_id,
       (SELECT count(*) FROM ok) AS w_planned, l.id IS NOT NULL AS w_chat_found,
       coalesce(r.created, false) AS w_created,
       ok.ord IS NOT NULL AND ok.ord = p.reopen_ord AND l.status = 'closed' AS w_reopened,
       ok.ord IS NOT NULL AND ok.ord = p.operator_ord AND l.assigned_to IS NULL AS w_took,
       r.id, r.chat_id, r.seq, r.client_id, r.author_kind, r.author_id, r.text, r.reactions,
       r.created_at, r.read_at,
       u.name AS operator_name, u.avatar_url AS operator_avatar, v.name AS visitor_name,
       a.id AS att_id, a.name AS att_name, a.size AS att_size, a.mime AS att_mime,
       a.has_thumb AS att_thumb
  FROM input i
  LEFT JOIN locked l ON l.id = i.chat_id
  LEFT JOIN ok ON ok.ord = i.ord
  LEFT JOIN per_chat p ON p.chat_id = ok.chat_id
  LEFT JOIN answer r ON r.ord = i.ord
  -- By primary key, row by row (LIMIT 1 keeps the planner from turning these into hash
  -- joins over whole tables): the plan is generic and kept for the connection's life, so
  -- it must not depend on how many visitors or users there are today.
  LEFT JOIN LATERAL (SELECT name, avatar_url FROM users
                      WHERE r.author_kind = 'operator' AND id = r.author_id LIMIT 1) u ON true
  LEFT JOIN LATERAL (SELECT name FROM visitors
                      WHERE r.author_kind = 'visitor' AND id = r.author_id LIMIT 1) v ON true
  LEFT JOIN LATERAL (SELECT id, name, size, mime, has_thumb FROM attachments
                      WHERE id = r.attachment_id LIMIT 1) a ON true
 ORDER BY i.ord
"""

_PARAMS = ("c", "k", "a", "cid", "t", "att", "re")
_TYPES = ("bigint[]", "text[]", "bigint[]", "text[]", "text[]", "text[]", "boolean[]")
# _STORE as a prepared statement, parsed and planned once per connection. The generic plan
# is forced: PostgreSQL would otherwise keep choosing a custom plan (it cannot guess the
# arrays' length in a generic one) and plan the statement again for every batch, which cost
# as much as running it (1.6 ms of 3.5 ms for 12 messages). The setting only concerns
# prepared statements, and this is the only one the app makes.
_PREPARE = ("SET plan_cache_mode = force_generic_plan;"
            " PREPARE chatiq_store (" + ", ".join(_TYPES) + ") AS " + _STORE)
for _n, _name in enumerate(_PARAMS, 1):
    _PREPARE = _PREPARE.replace(f"%({_name})s", f"${_n}")
_EXECUTE = "EXECUTE chatiq_store (" + ", ".join(f"%({n})s" for n in _PARAMS) + ")"

# The batch's last round trip: the NOTIFY (sent only because we commit), the chats this
# batch made but did not use (their only post was refused), the missed-chat clock, COMMIT.
_NOTIFY = "SELECT pg_notify(%(ch)s, %(payload)s);"
_UNUSED = " DELETE FROM chats WHERE id = ANY(%(unused)s) AND last_seq = 0;"

# Pool connections that have _PREPARE'd: a prepared statement lives as long as its
# connection (a reconnected one is a new object), whichever writer prepared it.
_PREPARED: weakref.WeakSet = weakref.WeakSet()

# Lanes run side by side on their own connections. With one statement per batch, fewer and
# fuller batches win (writer alone, 50 posters, 2 cores: 1 lane 5,178/s, 2 lanes 4,928/s,
# 4 lanes 4,082/s, 8 lanes 1,877/s); two keep a commit's wait overlapped with the next batch.
LANES = 2

# Past this, a batch's NOTIFY payload could pass PostgreSQL's 8000-byte limit.
MAX_BATCH = 200
# A concurrent transaction storing the same clientId at the same moment makes the batch
# retry (its copy is then found as a duplicate); this bounds the retries.
RACE_RETRIES = 3


class _Race(Exception):
    """A clientId committed elsewhere between our snapshot and our insert."""


@dataclass(slots=True)
class _Item:
    post: Post
    future: asyncio.Future
    lane: int


@dataclass(slots=True)
class _Outcome:
    row: dict | None = None      # MESSAGE_SELECT row
    created: bool = False
    chat_created: bool = False
    reopened: bool = False
    took: bool = False
    site_id: int | None = None
    chat: dict | None = None     # CHAT_SELECT row, when this post created or changed it
    declined: bool = False       # its guard said it is no longer due
    error: Exception | None = None


class MessageWriter:
    """Queues posts and stores each queue-full with one statement in one transaction.

    Several lanes run side by side, each on its own connection, so one batch's commit
    overlaps the next batch's statement. A chat always maps to the same lane (a post
    without a chat, to its visitor's), so one chat's messages keep their order.
    """

    def __init__(self, pool, *, node: str | None = None, lanes: int = LANES,
                 max_batch: int = MAX_BATCH, on_event: EventHook | None = None,
                 observe: BatchObserver | None = None):
        self.pool = pool
        self.node = node  # named in the batch's NOTIFY, so this process skips its own
        self.on_event = on_event  # told of each stored message inside its batch's transaction
        self.observe = observe
        self.max_batch = min(max_batch, MAX_BATCH)
        # lane number → its queue of posts waiting for the next batch
        self._queues: list[deque[_Item]] = [deque() for _ in range(lanes)]
        self._wakes = [asyncio.Event() for _ in range(lanes)]
        self._tasks: list[asyncio.Task] = []
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

    async def post(self, post: Post) -> Posted | None:
        """Store one message; answered after its batch commits. None only when the post's
        guard said it is no longer due.

        Raises db.NotFound when the chat (or the attachment) is not there to take it,
        db.DatabaseUnavailable when the batch could not be committed (resend with the
        same clientId: it is stored once).
        """
        if not self._tasks:
            raise RuntimeError("MessageWriter.start() was not called")
        if post.chat_id is None and post.author_kind != "visitor":
            raise ValueError("only a visitor's post may leave the chat to the writer")
        future = asyncio.get_running_loop().create_future()
        # Mark a failure as seen even when the caller has gone away meanwhile.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        key = post.chat_id if post.chat_id is not None else post.author_id
        lane = key % len(self._queues)
        self._queues[lane].append(_Item(post, future, lane))
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
            outcomes = await self._transaction(batch)
        except db.DatabaseUnavailable as exc:
            for item in batch:
                _fail(item, exc)
            return
        except psycopg2.Error:
            # One bad post must not sink its neighbours: store them one by one.
            log.exception("a batch of %d messages failed; retrying them one at a time",
                          len(batch))
            for item in batch:
                try:
                    single = await self._transaction([item])
                except Exception as exc:  # noqa: BLE001 - answered to that caller only
                    _fail(item, exc if isinstance(exc, db.StoreError)
                          else db.StoreError("message could not be stored"))
                else:
                    _answer([item], single)
            return
        _answer(batch, outcomes)

    async def _transaction(self, batch: list[_Item]) -> list[_Outcome]:
        for attempt in range(RACE_RETRIES + 1):
            try:
                return await self._attempt(batch)
            except _Race:
                if attempt == RACE_RETRIES:
                    raise db.StoreError("message could not be stored (clientId race)") from None
        raise AssertionError("unreachable")

    async def _attempt(self, batch: list[_Item]) -> list[_Outcome]:
        started = time.perf_counter()
        try:
            conn = await self.pool.acquire()
        except Exception as exc:  # psycopg2.OperationalError, timeouts
            raise db.DatabaseUnavailable(str(exc)) from exc
        try:
            cur = await conn.cursor()
            try:
                if conn not in _PREPARED:
                    await cur.execute(_PREPARE)
                    _PREPARED.add(conn)
                try:
                    outcomes = await self._statements(cur, batch)
                except BaseException:
                    if not conn.closed:
                        await cur.execute("ROLLBACK")
                    raise
            finally:
                cur.close()
        except psycopg2.OperationalError as exc:
            raise db.DatabaseUnavailable(str(exc)) from exc
        finally:
            await self.pool.release(conn)
        stored = [o for o in outcomes if o.created]
        self.batches += 1
        self.messages += len(stored)
        if self.observe is not None and stored:
            self.observe(len(stored), time.perf_counter() - started,
                         Counter(o.row["author_kind"] for o in stored))
        return outcomes

    async def _statements(self, cur, batch: list[_Item]) -> list[_Outcome]:
        """BEGIN … COMMIT. A batch of posts into known chats (the usual case) is two round
        trips: the batch statement (which returns the stored rows), then NOTIFY + COMMIT."""
        posts = [item.post for item in batch]
        outcomes = [_Outcome() for _ in batch]
        chat_ids = [p.chat_id for p in posts]
        texts = [p.text for p in posts]
        begin, made = "BEGIN; ", set()
        if any(p.chat_id is None or p.guard is not None for p in posts):
            await cur.execute("BEGIN")
            begin = ""
            made = await self._visitor_chats(cur, posts, chat_ids)
            for n, post in enumerate(posts):
                if post.guard is not None and chat_ids[n] is not None:
                    texts[n] = await post.guard.check(cur)
                    if texts[n] is None:  # no longer due: store nothing, answer None
                        chat_ids[n], outcomes[n].declined = None, True
        # Same connection and transaction, a plain cursor: building its rows as dicts here
        # costs a tenth of what RealDictCursor's per-column __setitem__ did.
        plain = await cur.connection.cursor(cursor_factory=psycopg2.extensions.cursor)
        try:
            await plain.execute(begin + _EXECUTE, {
                "c": chat_ids, "k": [p.author_kind for p in posts],
                "a": [p.author_id for p in posts], "cid": [p.client_id for p in posts],
                "t": texts, "att": [p.attachment_id for p in posts],
                "re": [p.reopen for p in posts]})
            names = [column.name for column in plain.description]
            rows = [dict(zip(names, values)) for values in await plain.fetchall()]
        finally:
            plain.close()
        if sum(r["w_created"] for r in rows) < rows[0]["w_planned"]:
            raise _Race()  # rolled back by the caller; the retry finds the copy
        self._settle(posts, rows, outcomes, made)
        await self._after_store(cur, batch, outcomes)
        stored = [o.row for o in outcomes if o.created]
        used = {row["chat_id"] for row in stored}
        final = _NOTIFY
        params = {"ch": EVENTS_CHANNEL, "payload": json.dumps(
            {"n": self.node, "m": [(row["chat_id"], row["seq"]) for row in stored],
             "c": sorted(made & used)}, separators=(",", ":"))}
        if made - used:
            final += _UNUSED
            params["unused"] = sorted(made - used)
        waiting = sorted({row["chat_id"] for row in stored if row["author_kind"] == "visitor"})
        if waiting:  # a visitor now waiting on the team starts the missed-chat email's clock
            final += ENQUEUE_MISSED + ";"
            params["chats"] = waiting
        await cur.execute(final + " COMMIT", params)
        return outcomes

    @staticmethod
    def _settle(posts: list[Post], rows: list[dict], outcomes: list[_Outcome],
                made: set[int]) -> None:
        """Each post's outcome from the batch statement's rows (one per post, in order)."""
        first_copy: dict[tuple, dict] = {}  # a clientId stored by this batch → its row
        announced: set[int] = set()
        for row in rows:
            n = row["w_ord"] - 1
            out, post = outcomes[n], posts[n]
            if out.declined:
                continue
            message = {k: v for k, v in row.items() if not k.startswith("w_")}
            if row["id"] is None and post.client_id is not None:
                # A second copy of one clientId inside this batch: the first's row.
                message = first_copy.get(_copy_key(post))
            if message is None or message["id"] is None:
                out.error = db.NotFound("attachment not found" if row["w_chat_found"]
                                        else "chat not found")
                continue
            out.row, out.created, out.site_id = message, row["w_created"], row["w_site_id"]
            out.reopened, out.took = row["w_reopened"], row["w_took"]
            if out.created:
                if post.client_id is not None:
                    first_copy[_copy_key(post)] = message
                chat_id = message["chat_id"]
                if chat_id in made and chat_id not in announced:
                    out.chat_created = True  # the chat's first message announces it
                    announced.add(chat_id)

    @staticmethod
    async def _visitor_chats(cur, posts: list[Post], chat_ids: list[int | None]) -> set[int]:
        """Fill in the chat of each post that named none: its visitor's current chat, made
        now if they have none. Returns the chats made."""
        made: set[int] = set()
        visitors = sorted({p.author_id for p in posts if p.chat_id is None})
        if not visitors:
            return made
        await cur.execute(_VISITOR_CHATS, {"v": visitors})
        found = {r["visitor_id"]: (r["id"], r["created"]) for r in await cur.fetchall()}
        for n, post in enumerate(posts):
            if post.chat_id is None and post.author_id in found:
                chat_ids[n], created = found[post.author_id]
                if created:
                    made.add(chat_ids[n])
        return made

    async def _after_store(self, cur, batch: list[_Item], outcomes: list[_Outcome]) -> None:
        """Inside the transaction, once per batch: guards' links, the event hooks (webhook
        jobs; usually no query: the hook caches which sites have none), and the changed
        chats' summaries for the fan-out (only when a chat was made, reopened or taken)."""
        changed = set()
        for item, out in zip(batch, outcomes):
            if not out.created:
                continue
            row = out.row
            if item.post.guard is not None:
                await item.post.guard.stored(cur, row)
            if out.chat_created or out.reopened or out.took:
                changed.add(row["chat_id"])
            if self.on_event is not None:
                if out.chat_created:
                    await self.on_event(cur, "chat.started", out.site_id,
                                        {"chat_id": row["chat_id"]})
                await self.on_event(cur, "message.created", out.site_id, {"message": row})
        if changed:
            await cur.execute(CHAT_SELECT + " WHERE c.id = ANY(%(ids)s)",
                              {"ids": sorted(changed)})
            chats = {r["id"]: r for r in await cur.fetchall()}
            for out in outcomes:
                if out.created and out.row["chat_id"] in changed:
                    out.chat = chats.get(out.row["chat_id"])


def _copy_key(post: Post) -> tuple:
    return post.author_kind, post.author_id, post.client_id


def _answer(batch: list[_Item], outcomes: list[_Outcome]) -> None:
    for item, out in zip(batch, outcomes):
        if item.future.done():
            continue
        if out.error is not None:
            item.future.set_exception(out.error)
        elif out.declined:
            item.future.set_result(None)
        else:
            item.future.set_result(Posted(
                out.row, out.created, site_id=out.site_id, chat=out.chat,
                chat_created=out.chat_created, chat_reopened=out.reopened, assigned=out.took))


def _fail(item: _Item, exc: Exception) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
