"""Attachment metadata: who uploaded what, where it may be used, and which blobs are still needed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatiq.core.security import new_token
from chatiq.store import db

# pg_advisory_lock's first key for "one blob at a time": storing a blob with its
# row and deleting an unreferenced blob must not interleave, or a concurrent
# upload of the same bytes could be left with a row and no file.
BLOB_LOCK_SPACE = 73_124_511


@dataclass(frozen=True)
class Attachment:
    id: str
    # None: an operator's upload not yet sent in a message (bound to a site when it is).
    site_id: int | None
    chat_id: int | None
    uploader_kind: str
    uploader_id: int
    sha256: str
    name: str
    size: int
    mime: str
    has_thumb: bool
    used: bool
    created_at: datetime
    # The chat's visitor (None until the attachment is used in a message).
    chat_visitor_id: int | None = None


_COLUMNS = ("a.id, a.site_id, a.chat_id, a.uploader_kind, a.uploader_id, a.sha256, a.name,"
            " a.size, a.mime, a.has_thumb, a.used, a.created_at")


@contextlib.asynccontextmanager
async def blob_lock(pool, sha256: str) -> AsyncIterator[Any]:
    """A cursor on a connection that holds the blob's lock until the block ends."""
    async with db.cursor(pool) as cur:
        params = {"space": BLOB_LOCK_SPACE, "sha": sha256}
        await cur.execute("SELECT pg_advisory_lock(%(space)s, hashtext(%(sha)s))", params)
        try:
            yield cur
        finally:
            await cur.execute("SELECT pg_advisory_unlock(%(space)s, hashtext(%(sha)s))", params)


async def create(cur, *, site_id: int | None, uploader_kind: str, uploader_id: int, sha256: str,
                 name: str, size: int, mime: str, has_thumb: bool) -> Attachment:
    """A new, unused attachment under an unguessable id (call inside blob_lock)."""
    await cur.execute(
        "INSERT INTO attachments AS a (id, site_id, uploader_kind, uploader_id, sha256, name,"
        " size, mime, has_thumb) VALUES (%(id)s, %(site)s, %(kind)s, %(uploader)s, %(sha)s,"
        " %(name)s, %(size)s, %(mime)s, %(thumb)s) RETURNING " + _COLUMNS,
        {"id": new_token(24), "site": site_id, "kind": uploader_kind, "uploader": uploader_id,
         "sha": sha256, "name": name, "size": size, "mime": mime, "thumb": has_thumb})
    return Attachment(**await cur.fetchone())


async def sha_in_use(cur, sha256: str) -> bool:
    await cur.execute("SELECT 1 FROM attachments WHERE sha256 = %(sha)s LIMIT 1", {"sha": sha256})
    return await cur.fetchone() is not None


async def attachment_by_id(pool, att_id: str) -> Attachment | None:
    row = await db.fetchone(
        pool, "SELECT " + _COLUMNS + ", c.visitor_id AS chat_visitor_id FROM attachments a"
              " LEFT JOIN chats c ON c.id = a.chat_id WHERE a.id = %(id)s", {"id": att_id})
    return None if row is None else Attachment(**row)


async def recent_unused_count(pool, uploader_kind: str, uploader_id: int, seconds: int) -> int:
    """Uploads not (yet) sent in a message, made in the last `seconds`: a brake on disk filling."""
    row = await db.fetchone(
        pool, "SELECT count(*) AS n FROM attachments WHERE uploader_kind = %(k)s"
              " AND uploader_id = %(u)s AND NOT used"
              " AND created_at > now() - make_interval(secs => %(s)s)",
        {"k": uploader_kind, "u": uploader_id, "s": seconds})
    return row["n"]


async def delete_unused_before(pool, hours: int) -> list[str]:
    """Forget uploads never sent in a message within `hours`; their sha256s, for blob cleanup."""
    rows = await db.fetchall(
        pool, "DELETE FROM attachments WHERE NOT used"
              " AND created_at < now() - make_interval(hours => %(h)s) RETURNING sha256",
        {"h": hours})
    return [r["sha256"] for r in rows]


async def delete_for_site_before(pool, site_id: int, days: int) -> list[str]:
    """Retention: drop a site's attachments older than `days` (messages keep their text and
    lose the attachment); their sha256s, for blob cleanup."""
    rows = await db.fetchall(
        pool, "DELETE FROM attachments WHERE site_id = %(s)s"
              " AND created_at < now() - make_interval(days => %(d)s) RETURNING sha256",
        {"s": site_id, "d": days})
    return [r["sha256"] for r in rows]
