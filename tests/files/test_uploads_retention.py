"""Deleting a chat's data and the retention job take the files with them, but never a shared blob."""

from __future__ import annotations

import hashlib

import pytest

import samples
from samples import Uploads, attachment_files, client_id
from chatiq import keys
from chatiq.files import upload as uploads
from chatiq.core.protocol import parse_id
from chatiq.files.upload import storage_of
from conftest import request


@pytest.fixture
async def up(chat) -> Uploads:
    return await Uploads(chat).setup()


async def _send(up, content, name, visitor=None):
    _, body = await up.as_visitor(content, name, visitor=visitor)
    reply = await request(visitor or up.visitor, "visitor:message",
                          {"clientId": client_id(), "attachmentId": body["attachment"]["id"]})
    assert reply["type"] == "ack", reply
    return reply["data"]["message"]


async def test_deleting_a_chat_keeps_blobs_other_chats_use(up, chat, client, config, sql):
    pool, storage = client.app[keys.POOL], storage_of(client.app)
    files_dir = config.data_dir / "files"
    shared, own = samples.png((64, 64)), samples.PDF
    first = await _send(up, shared, "shared.png")
    await _send(up, own, "own.pdf")
    other = await chat.visitor_ws(up.site["siteKey"])
    second = await _send(up, shared, "same-bytes.png", visitor=other)
    shared_sha = hashlib.sha256(shared).hexdigest()

    await uploads.delete_chat(pool, storage, parse_id("c", first["chatId"]))
    assert attachment_files(files_dir) == [f"{shared_sha[:2]}/{shared_sha}",
                                           f"{shared_sha[:2]}/{shared_sha}-thumb"]
    assert sql("SELECT count(*) FROM chats") == [(1,)]
    status, _, _ = await up.fetch(first["attachment"]["url"], up.owner_token)
    assert status == 404
    status, _, data = await up.fetch(second["attachment"]["url"], up.owner_token)
    assert status == 200 and data == shared

    await uploads.delete_chat(pool, storage, parse_id("c", second["chatId"]))
    assert attachment_files(files_dir) == []
    assert sql("SELECT count(*) FROM attachments") == [(0,)]


async def test_retention_removes_old_chats_and_attachments_with_their_files(up, chat, client,
                                                                            config, sql):
    pool, storage = client.app[keys.POOL], storage_of(client.app)
    files_dir = config.data_dir / "files"
    old = await _send(up, samples.PDF, "old.pdf")
    recent_visitor = await chat.visitor_ws(up.site["siteKey"])
    old_in_active = await _send(up, b"old notes\n", "old.txt", visitor=recent_visitor)
    fresh = await _send(up, b"fresh notes\n", "fresh.txt", visitor=recent_visitor)
    _, unsent = await up.as_visitor(samples.gif(), "never-sent.gif")
    _, unsent_today = await up.as_visitor(samples.webp(), "just-now.webp")
    old_chat = parse_id("c", old["chatId"])
    sql("UPDATE chats SET updated_at = now() - interval '40 days' WHERE id = %s", (old_chat,))
    sql("UPDATE attachments SET created_at = now() - interval '40 days' WHERE id IN (%s, %s)",
        (old["attachment"]["id"], old_in_active["attachment"]["id"]))
    sql("UPDATE attachments SET created_at = now() - interval '2 days' WHERE id = %s",
        (unsent["attachment"]["id"],))
    other_site = await chat.create_site(up.owner_token, name="Other")

    await uploads.apply_retention(pool, storage, site_id=parse_id("s", other_site["id"]), days=30)
    assert sql("SELECT count(*) FROM chats") == [(2,)]  # another site's retention: untouched

    await uploads.apply_retention(pool, storage, site_id=parse_id("s", up.site["id"]), days=30)
    assert sql("SELECT id FROM chats") == [(parse_id("c", fresh["chatId"]),)]
    assert sorted(r[0] for r in sql("SELECT name FROM attachments")) == ["fresh.txt",
                                                                          "just-now.webp"]
    # The active chat keeps its messages; the expired attachment is gone from them.
    texts = sql("SELECT attachment_id IS NULL FROM messages WHERE chat_id = %s ORDER BY seq",
                (parse_id("c", fresh["chatId"]),))
    assert texts == [(True,), (False,)]
    kept = {hashlib.sha256(b"fresh notes\n").hexdigest(),
            hashlib.sha256(samples.webp()).hexdigest()}
    assert {name.split("/")[1].removesuffix("-thumb") for name in attachment_files(files_dir)} == kept
