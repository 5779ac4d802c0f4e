"""The one write path (store/writer.py), driven directly against the real database:
batching, per-chat order, gap-free seqs, clientId idempotency, attachment claims, chats
made for first messages, refusals that do not sink a batch, and no ack without a commit."""

from __future__ import annotations

import asyncio
import json
import os

import psycopg2
import pytest

from chatiq.store import db
from chatiq.store.writer import MessageWriter, Post


@pytest.fixture
async def writer(pool):
    writer = MessageWriter(pool, node="test", lanes=2)
    writer.start()
    yield writer
    await writer.stop(grace=1.0)


class World:
    """Rows made with plain SQL, independent of the code under test."""

    def __init__(self, sql):
        self.sql = sql
        self.org = sql("INSERT INTO organizations (name) VALUES ('o') RETURNING id")[0][0]
        self.site = self.new_site()
        self.operator = sql(
            "INSERT INTO users (org_id, email, name, role) VALUES (%s, %s, 'Op', 'OWNER')"
            " RETURNING id", (self.org, f"op{self.org}@example.com"))[0][0]

    def new_site(self) -> int:
        return self.sql("INSERT INTO sites (org_id, name, site_key) VALUES (%s, 's', %s)"
                        " RETURNING id", (self.org, os.urandom(8).hex()))[0][0]

    def visitor(self, site: int | None = None) -> int:
        return self.sql("INSERT INTO visitors (site_id, token_hash) VALUES (%s, %s) RETURNING id",
                        (site or self.site, os.urandom(16)))[0][0]

    def chat(self, visitor: int | None = None, status: str = "open") -> int:
        visitor = visitor or self.visitor()
        site = self.sql("SELECT site_id FROM visitors WHERE id = %s", (visitor,))[0][0]
        return self.sql("INSERT INTO chats (site_id, visitor_id, status) VALUES (%s, %s, %s)"
                        " RETURNING id", (site, visitor, status))[0][0]

    def upload(self, kind: str, uploader: int, site: int | None = -1) -> str:
        att = "att" + os.urandom(6).hex()
        self.sql("INSERT INTO attachments (id, site_id, uploader_kind, uploader_id, sha256, name,"
                 " size, mime) VALUES (%s, %s, %s, %s, 'x', 'a.txt', 1, 'text/plain')",
                 (att, self.site if site == -1 else site, kind, uploader))
        return att

    def seqs(self, chat: int) -> list[int]:
        return [r[0] for r in self.sql("SELECT seq FROM messages WHERE chat_id = %s ORDER BY seq",
                                       (chat,))]


@pytest.fixture
def world(sql):
    return World(sql)


def visitor_post(visitor: int, chat: int | None, text: str, **kw) -> Post:
    return Post("visitor", visitor, text, chat_id=chat, reopen=True, **kw)


async def test_a_batch_keeps_each_chats_order_and_numbers_it_without_gaps(writer, world, sql):
    chats = [world.chat() for _ in range(3)]
    owners = {c: sql("SELECT visitor_id FROM chats WHERE id = %s", (c,))[0][0] for c in chats}
    posts = [visitor_post(owners[c], c, f"{c}:{n}") for n in range(20) for c in chats]
    results = await asyncio.gather(*(writer.post(p) for p in posts))
    assert writer.batches < len(posts)  # they were stored together, not one by one
    for c in chats:
        rows = sql("SELECT seq, text FROM messages WHERE chat_id = %s ORDER BY seq", (c,))
        assert [r[0] for r in rows] == list(range(1, 21))
        assert [r[1] for r in rows] == [f"{c}:{n}" for n in range(20)]  # arrival order
        assert sql("SELECT last_seq FROM chats WHERE id = %s", (c,))[0][0] == 20
    assert all(r.created for r in results)
    assert {r.message["text"] for r in results} == {p.text for p in posts}


async def test_a_duplicate_client_id_inside_one_batch_is_stored_once(writer, world, sql):
    chat = world.chat()
    visitor = sql("SELECT visitor_id FROM chats WHERE id = %s", (chat,))[0][0]
    posts = [visitor_post(visitor, chat, "same", client_id="dup") for _ in range(5)]
    posts.append(visitor_post(visitor, chat, "other", client_id="x"))
    results = await asyncio.gather(*(writer.post(p) for p in posts))
    ids = {r.message["id"] for r in results[:5]}
    assert len(ids) == 1 and sum(r.created for r in results[:5]) == 1
    assert world.seqs(chat) == [1, 2]


async def test_a_duplicate_client_id_across_batches_answers_with_the_first_copy(writer, world, sql):
    chat = world.chat()
    visitor = sql("SELECT visitor_id FROM chats WHERE id = %s", (chat,))[0][0]
    first = await writer.post(visitor_post(visitor, chat, "hello", client_id="c1"))
    again = await writer.post(visitor_post(visitor, chat, "hello (resent)", client_id="c1"))
    assert first.created and not again.created
    assert again.message["id"] == first.message["id"] and again.message["text"] == "hello"
    assert world.seqs(chat) == [1]


async def test_concurrent_resends_on_two_writers_store_once(pool, world, sql):
    """Two processes' writers racing on one clientId: one copy, no seq gap."""
    chat = world.chat()
    visitor = sql("SELECT visitor_id FROM chats WHERE id = %s", (chat,))[0][0]
    writers = [MessageWriter(pool, node=f"w{n}", lanes=1) for n in range(2)]
    for w in writers:
        w.start()
    try:
        results = await asyncio.gather(*(
            w.post(visitor_post(visitor, chat, "race", client_id="r")) for w in writers
            for _ in range(3)))
    finally:
        for w in writers:
            await w.stop(grace=1.0)
    assert len({r.message["id"] for r in results}) == 1
    assert world.seqs(chat) == [1]
    assert sql("SELECT last_seq FROM chats WHERE id = %s", (chat,))[0][0] == 1


async def test_an_attachment_claimed_twice_goes_to_the_first_and_refuses_the_second(
        writer, world, sql):
    chat = world.chat()
    visitor = sql("SELECT visitor_id FROM chats WHERE id = %s", (chat,))[0][0]
    att = world.upload("visitor", visitor)
    first, second = await asyncio.gather(
        writer.post(visitor_post(visitor, chat, "a", attachment_id=att)),
        writer.post(visitor_post(visitor, chat, "b", attachment_id=att)),
        return_exceptions=True)
    assert first.created and first.message["att_id"] == att
    assert isinstance(second, db.NotFound) and "attachment" in str(second)
    assert world.seqs(chat) == [1]  # the refused one left no gap
    # Used once is used for good: a later message cannot take it either.
    with pytest.raises(db.NotFound):
        await writer.post(visitor_post(visitor, chat, "c", attachment_id=att))
    assert sql("SELECT used, chat_id FROM attachments WHERE id = %s", (att,)) == [(True, chat)]


async def test_attachments_of_another_uploader_or_site_are_refused(writer, world, sql):
    chat = world.chat()
    visitor = sql("SELECT visitor_id FROM chats WHERE id = %s", (chat,))[0][0]
    theirs = world.upload("visitor", world.visitor())
    other_site = world.upload("visitor", visitor, site=world.new_site())
    for att in (theirs, other_site):
        with pytest.raises(db.NotFound):
            await writer.post(visitor_post(visitor, chat, "x", attachment_id=att))
    assert world.seqs(chat) == []
    assert sql("SELECT count(*) FROM attachments WHERE used")[0][0] == 0


async def test_an_operators_upload_without_a_site_is_bound_at_its_first_use(writer, world, sql):
    chat = world.chat()
    att = world.upload("operator", world.operator, site=None)
    posted = await writer.post(Post("operator", world.operator, "", chat_id=chat,
                                    attachment_id=att))
    assert posted.created and posted.message["att_id"] == att
    assert sql("SELECT site_id, chat_id FROM attachments WHERE id = %s", (att,)) == \
        [(world.site, chat)]


async def test_a_missing_chat_is_refused_and_its_batch_neighbours_are_stored(writer, world, sql):
    chat = world.chat()
    visitor = sql("SELECT visitor_id FROM chats WHERE id = %s", (chat,))[0][0]
    gone = world.chat()
    sql("DELETE FROM chats WHERE id = %s", (gone,))
    results = await asyncio.gather(
        writer.post(visitor_post(visitor, chat, "one")),
        writer.post(Post("operator", world.operator, "to nobody", chat_id=gone)),
        writer.post(visitor_post(visitor, chat, "two")),
        return_exceptions=True)
    assert isinstance(results[1], db.NotFound) and "chat" in str(results[1])
    assert results[0].created and results[2].created
    assert world.seqs(chat) == [1, 2]


async def test_a_first_message_makes_the_chat_once_for_concurrent_tabs(writer, world, sql):
    visitor = world.visitor()
    results = await asyncio.gather(*(writer.post(visitor_post(visitor, None, f"tab {n}"))
                                     for n in range(4)))
    chats = sql("SELECT id FROM chats WHERE visitor_id = %s", (visitor,))
    assert len(chats) == 1
    assert {r.message["chat_id"] for r in results} == {chats[0][0]}
    created = [r for r in results if r.chat_created]
    assert len(created) == 1 and created[0].chat["id"] == chats[0][0]
    assert world.seqs(chats[0][0]) == [1, 2, 3, 4]


async def test_a_refused_first_message_leaves_no_empty_chat(writer, world, sql):
    visitor = world.visitor()
    with pytest.raises(db.NotFound):
        await writer.post(visitor_post(visitor, None, "x", attachment_id="no-such-upload"))
    assert sql("SELECT count(*) FROM chats WHERE visitor_id = %s", (visitor,))[0][0] == 0


async def test_a_visitor_reopens_a_closed_chat_and_the_first_operator_takes_it(writer, world, sql):
    visitor = world.visitor()
    chat = world.chat(visitor, status="closed")
    posted = await writer.post(visitor_post(visitor, chat, "back again"))
    assert posted.chat_reopened and posted.chat["status"] == "open"
    a, b = await asyncio.gather(
        writer.post(Post("operator", world.operator, "hi", chat_id=chat)),
        writer.post(Post("operator", world.operator, "how can I help", chat_id=chat)))
    assert [a.assigned, b.assigned] == [True, False]
    assert a.chat["assigned_to"] == world.operator
    assert sql("SELECT status, assigned_to FROM chats WHERE id = %s", (chat,)) == \
        [("open", world.operator)]


async def test_a_batch_notifies_once_with_every_stored_message(pool, writer, world, sql,
                                                               database_url):
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("LISTEN chatiq_events")
    chat = world.chat()
    visitor = sql("SELECT visitor_id FROM chats WHERE id = %s", (chat,))[0][0]
    await asyncio.gather(*(writer.post(visitor_post(visitor, chat, str(n))) for n in range(10)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while len(conn.notifies) < writer.batches and loop.time() < deadline:
        await asyncio.sleep(0.02)
        conn.poll()
    payloads = [json.loads(n.payload) for n in conn.notifies]
    conn.close()
    assert len(payloads) == writer.batches
    assert sorted(p for note in payloads for p in map(tuple, note["m"])) == \
        [(chat, s) for s in range(1, 11)]


async def test_a_lost_connection_mid_batch_is_never_acknowledged(pool, world, sql):
    """The connection dies inside the batch's transaction: every caller hears
    DatabaseUnavailable, nothing is stored, and a resend with the same clientId is stored
    once."""
    chat = world.chat()
    visitor = sql("SELECT visitor_id FROM chats WHERE id = %s", (chat,))[0][0]

    class KillerGuard:
        """Runs inside the transaction: cuts this very connection."""

        async def check(self, cur):
            await cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            return "never"

        async def stored(self, cur, message):
            raise AssertionError("must not be reached")

    writer = MessageWriter(pool, node="t", lanes=1)
    writer.start()
    try:
        results = await asyncio.gather(
            writer.post(visitor_post(visitor, chat, "one", client_id="k1")),
            writer.post(Post("bot", None, "", chat_id=chat, guard=KillerGuard())),
            return_exceptions=True)
        assert all(isinstance(r, db.DatabaseUnavailable) for r in results), results
        assert world.seqs(chat) == []
        again = await writer.post(visitor_post(visitor, chat, "one", client_id="k1"))
        assert again.created and world.seqs(chat) == [1]
    finally:
        await writer.stop(grace=1.0)


async def test_a_guard_that_declines_stores_nothing(writer, world):
    chat = world.chat()

    class NotDue:
        async def check(self, cur):
            return None

        async def stored(self, cur, message):
            raise AssertionError("must not be reached")

    assert await writer.post(Post("bot", None, "", chat_id=chat, guard=NotDue())) is None
    assert world.seqs(chat) == []
