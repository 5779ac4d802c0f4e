"""Keyset pages for exports: chats of one site by creation time, then their messages.

Each page is one short query on a pooled connection, so an export of any size holds
neither a transaction open nor more than a page of rows in memory.
"""

from __future__ import annotations

from datetime import datetime

from chatiq.store import db
from chatiq.store.chats import MESSAGE_SELECT

EXPORT_CHAT_SELECT = (
    "SELECT c.id, c.site_id, c.visitor_id, c.status, c.assigned_to, c.created_at,"
    " c.closed_at, v.name AS visitor_name, v.email AS visitor_email"
    " FROM chats c JOIN visitors v ON v.id = c.visitor_id"
)

# MESSAGE_SELECT plus each message's chat's place in the page, the first keyset column.
_PAGED_MESSAGES = MESSAGE_SELECT.replace("SELECT ", "SELECT p.pos, ", 1) + (
    " JOIN unnest(%(ids)s::bigint[]) WITH ORDINALITY AS p(chat_id, pos) ON p.chat_id = m.chat_id"
    " WHERE (p.pos, m.seq) > (%(pos)s, %(seq)s)"
    " ORDER BY p.pos, m.seq LIMIT %(limit)s"
)


async def chat_page(pool, site_id: int, start: datetime, end: datetime,
                    after: tuple[datetime, int] | None, limit: int) -> list[dict]:
    """Up to `limit` chats of the site created in [start, end), after the keyset `after`
    (created_at, id), oldest first."""
    after_at, after_id = after if after is not None else (None, 0)
    return await db.fetchall(
        pool, EXPORT_CHAT_SELECT +
        " WHERE c.site_id = %(site)s AND c.created_at >= %(start)s AND c.created_at < %(end)s"
        " AND (%(after_at)s::timestamptz IS NULL OR (c.created_at, c.id) > (%(after_at)s, %(after_id)s))"
        " ORDER BY c.created_at, c.id LIMIT %(limit)s",
        {"site": site_id, "start": start, "end": end, "after_at": after_at,
         "after_id": after_id, "limit": limit})


async def message_page(pool, chat_ids: list[int], after: tuple[int, int],
                       limit: int) -> list[dict]:
    """Up to `limit` messages of the given chats, in the chats' order then by seq, after the
    keyset `after` (1-based position of the chat in `chat_ids`, seq); (0, 0) starts."""
    pos, seq = after
    return await db.fetchall(pool, _PAGED_MESSAGES,
                             {"ids": chat_ids, "pos": pos, "seq": seq, "limit": limit})
