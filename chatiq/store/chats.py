"""Chats and their messages: reads, status, read cursors, reactions, deletion. Messages
are stored by one component only, the writer (store/writer.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from chatiq.store import db
from chatiq.store.accounts import User

# Work that must commit with an event or not at all (webhook jobs in the outbox): awaited
# inside the storing transaction as hook(cursor, event, site id, data). The app's hook is
# chatiq.webhooks' (keys.WEBHOOKS); None where nothing listens.
EventHook = Callable[[Any, str, int, dict], Awaitable[None]]

# One row shape for every message read, so the wire layer serialises them alike.
MESSAGE_SELECT = (
    "SELECT m.id, m.chat_id, m.seq, m.client_id, m.author_kind, m.author_id, m.text,"
    " m.reactions, m.created_at, m.read_at,"
    " u.name AS operator_name, u.avatar_url AS operator_avatar, v.name AS visitor_name,"
    " a.id AS att_id, a.name AS att_name, a.size AS att_size, a.mime AS att_mime,"
    " a.has_thumb AS att_thumb"
    " FROM messages m"
    " LEFT JOIN users u ON m.author_kind = 'operator' AND u.id = m.author_id"
    " LEFT JOIN visitors v ON m.author_kind = 'visitor' AND v.id = m.author_id"
    " LEFT JOIN attachments a ON a.id = m.attachment_id"
)

CHAT_SELECT = (
    "SELECT c.id, c.site_id, c.visitor_id, c.status, c.assigned_to, c.last_seq,"
    " c.operator_read_seq, c.visitor_read_seq, c.created_at, c.updated_at, c.closed_at,"
    " s.org_id, v.name AS visitor_name, v.email AS visitor_email, v.page_url, v.page_title,"
    " v.referrer, v.language, v.user_agent, v.timezone, v.first_seen, v.last_seen,"
    " v.external_id AS visitor_external_id,"
    " (SELECT count(*) FROM messages um WHERE um.chat_id = c.id"
    "   AND um.seq > c.operator_read_seq AND um.author_kind = 'visitor') AS unread,"
    " lm.id AS lm_id, lm.seq AS lm_seq, lm.text AS lm_text, lm.author_kind AS lm_author_kind,"
    " lm.created_at AS lm_created_at, lm.attachment_id AS lm_attachment_id"
    " FROM chats c JOIN sites s ON s.id = c.site_id JOIN visitors v ON v.id = c.visitor_id"
    " LEFT JOIN LATERAL (SELECT id, seq, text, author_kind, created_at, attachment_id"
    "   FROM messages WHERE chat_id = c.id ORDER BY seq DESC LIMIT 1) lm ON true"
)

# The chats a user may reach: their organization's, and for an OPERATOR only on
# sites they were given.
_ACCESS = (" s.org_id = %(org)s AND (%(owner)s OR EXISTS (SELECT 1 FROM site_operators so"
           " WHERE so.site_id = c.site_id AND so.user_id = %(uid)s))")


def _access(user: User) -> dict:
    return {"org": user.org_id, "owner": user.is_owner, "uid": user.id}


async def latest_chat_id(pool, visitor_id: int) -> int | None:
    row = await db.fetchone(
        pool, "SELECT id FROM chats WHERE visitor_id = %(v)s ORDER BY id DESC LIMIT 1",
        {"v": visitor_id})
    return None if row is None else row["id"]


async def messages_after(pool, chat_id: int, after_seq: int, limit: int | None = None) -> list[dict]:
    """Messages with seq > after_seq, oldest first."""
    return await db.fetchall(
        pool, MESSAGE_SELECT + " WHERE m.chat_id = %(c)s AND m.seq > %(after)s"
                               " ORDER BY m.seq LIMIT %(limit)s",
        {"c": chat_id, "after": after_seq, "limit": limit})


async def latest_messages(pool, chat_id: int, limit: int) -> list[dict]:
    """The newest `limit` messages, oldest first."""
    rows = await db.fetchall(
        pool, MESSAGE_SELECT + " WHERE m.chat_id = %(c)s ORDER BY m.seq DESC LIMIT %(limit)s",
        {"c": chat_id, "limit": limit})
    rows.reverse()
    return rows


async def messages_before(pool, chat_id: int, before_seq: int, limit: int) -> list[dict]:
    """Up to `limit` messages with seq < before_seq, oldest first (scrolling back)."""
    rows = await db.fetchall(
        pool, MESSAGE_SELECT + " WHERE m.chat_id = %(c)s AND m.seq < %(b)s"
                               " ORDER BY m.seq DESC LIMIT %(limit)s",
        {"c": chat_id, "b": before_seq, "limit": limit})
    rows.reverse()
    return rows


async def message_in_chat(pool, chat_id: int, message_id: int | None) -> dict:
    if message_id is None:
        raise db.NotFound("message not found")
    row = await db.fetchone(pool, MESSAGE_SELECT + " WHERE m.id = %(id)s AND m.chat_id = %(c)s",
                            {"id": message_id, "c": chat_id})
    if row is None:
        raise db.NotFound("message not found")
    return row


async def chat_row(pool, chat_id: int) -> dict | None:
    return await db.fetchone(pool, CHAT_SELECT + " WHERE c.id = %(id)s", {"id": chat_id})


async def chat_row_in(cur, chat_id: int) -> dict | None:
    """chat_row inside the caller's transaction (it sees that transaction's changes)."""
    await cur.execute(CHAT_SELECT + " WHERE c.id = %(id)s", {"id": chat_id})
    return await cur.fetchone()


async def chat_for(pool, user: User, chat_id: int | None) -> dict:
    """A chat the user may reach, or NotFound — the same answer for another tenant's."""
    if chat_id is None:
        raise db.NotFound("chat not found")
    row = await db.fetchone(pool, CHAT_SELECT + " WHERE c.id = %(id)s AND" + _ACCESS,
                            {"id": chat_id, **_access(user)})
    if row is None:
        raise db.NotFound("chat not found")
    return row


async def chats_for(pool, user: User, *, status: str | None = None, site_id: int | None = None,
                    q: str | None = None, assigned_to: int | None = None,
                    unassigned: bool = False, limit: int = 100) -> list[dict]:
    """The user's chats, newest activity first, filtered as asked."""
    like = None
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return await db.fetchall(
        pool,
        CHAT_SELECT + " WHERE" + _ACCESS +
        " AND (%(status)s::text IS NULL OR c.status = %(status)s)"
        " AND (%(site)s::bigint IS NULL OR c.site_id = %(site)s)"
        " AND (%(assignee)s::bigint IS NULL OR c.assigned_to = %(assignee)s)"
        " AND (NOT %(unassigned)s OR c.assigned_to IS NULL)"
        " AND (%(like)s::text IS NULL OR v.name ILIKE %(like)s OR v.email ILIKE %(like)s"
        "      OR EXISTS (SELECT 1 FROM messages qm WHERE qm.chat_id = c.id"
        "                 AND qm.text ILIKE %(like)s))"
        " ORDER BY c.updated_at DESC, c.id DESC LIMIT %(limit)s",
        {**_access(user), "status": status, "site": site_id, "assignee": assigned_to,
         "unassigned": unassigned, "like": like, "limit": limit})


async def set_status(pool, chat_id: int, status: str,
                     on_event: EventHook | None = None) -> bool:
    """Open or close a chat; False when it already had that status."""
    async with db.transaction(pool) as cur:
        await cur.execute(
            "UPDATE chats SET status = %(st)s, updated_at = now(),"
            " closed_at = CASE WHEN %(st)s = 'closed' THEN now() ELSE NULL END"
            " WHERE id = %(c)s AND status <> %(st)s RETURNING id, site_id",
            {"c": chat_id, "st": status})
        row = await cur.fetchone()
        if row is not None and status == "closed" and on_event is not None:
            await on_event(cur, "chat.closed", row["site_id"], {"chat_id": chat_id})
    return row is not None


async def assign(pool, chat_id: int, user_id: int | None) -> None:
    await db.fetchone(pool, "UPDATE chats SET assigned_to = %(u)s, updated_at = now()"
                            " WHERE id = %(c)s RETURNING id", {"c": chat_id, "u": user_id})


# Who reads what: the visitor reads the team's messages, operators the visitor's.
_READ_CURSOR = {
    "visitor": "UPDATE chats SET visitor_read_seq = LEAST(%(seq)s, last_seq) WHERE id = %(c)s"
               " AND visitor_read_seq < LEAST(%(seq)s, last_seq) RETURNING visitor_read_seq AS r",
    "operator": "UPDATE chats SET operator_read_seq = LEAST(%(seq)s, last_seq) WHERE id = %(c)s"
                " AND operator_read_seq < LEAST(%(seq)s, last_seq) RETURNING operator_read_seq AS r",
}
_READ_AUTHORS = {"visitor": ["operator", "bot", "system"], "operator": ["visitor"]}


async def mark_read(pool, chat_id: int, seq: int, *, by: str) -> int | None:
    """The reader (`visitor` or `operator`) saw everything up to seq.

    Stamps the other side's messages read and returns the new cursor, or None
    when it did not move forward.
    """
    async with db.transaction(pool) as cur:
        await cur.execute(_READ_CURSOR[by], {"c": chat_id, "seq": seq})
        row = await cur.fetchone()
        if row is None:
            return None
        await cur.execute(
            "UPDATE messages SET read_at = now() WHERE chat_id = %(c)s AND seq <= %(r)s"
            " AND read_at IS NULL AND author_kind = ANY(%(a)s)",
            {"c": chat_id, "r": row["r"], "a": _READ_AUTHORS[by]})
        return row["r"]


async def toggle_reaction(pool, message_id: int, reactor: str, emoji: str) -> None:
    """Add the reactor's emoji to a message, or take it back if it was there."""
    async with db.transaction(pool) as cur:
        await cur.execute("SELECT reactions FROM messages WHERE id = %(id)s FOR UPDATE",
                          {"id": message_id})
        row = await cur.fetchone()
        reactions = dict(row["reactions"] or {})
        who = list(reactions.get(emoji, []))
        if reactor in who:
            who.remove(reactor)
        else:
            who.append(reactor)
        if who:
            reactions[emoji] = who
        else:
            reactions.pop(emoji, None)
        await cur.execute("UPDATE messages SET reactions = %(r)s::jsonb WHERE id = %(id)s",
                          {"id": message_id, "r": json.dumps(reactions)})


async def chat_of_message(pool, message_id: int | None) -> int:
    row = None if message_id is None else await db.fetchone(
        pool, "SELECT chat_id FROM messages WHERE id = %(id)s", {"id": message_id})
    if row is None:
        raise db.NotFound("message not found")
    return row["chat_id"]


async def delete_chats(pool, *, chat_id: int | None = None, site_id: int | None = None,
                       idle_days: int | None = None) -> list[str]:
    """Delete one chat, or a site's chats idle for `idle_days` (retention), with their messages
    and attachments. Returns the attachments' sha256s so the caller can release the blobs."""
    if chat_id is None and (site_id is None or idle_days is None):
        raise ValueError("delete_chats needs chat_id, or site_id with idle_days")
    params = {"c": chat_id, "s": site_id, "d": idle_days}
    async with db.transaction(pool) as cur:
        # Lock the chats first: a message being stored in one waits, then finds it gone.
        await cur.execute(
            "SELECT id FROM chats WHERE (%(c)s::bigint IS NULL OR id = %(c)s)"
            " AND (%(s)s::bigint IS NULL OR (site_id = %(s)s"
            "      AND updated_at < now() - make_interval(days => %(d)s)))"
            " ORDER BY id FOR UPDATE", params)
        ids = [r["id"] for r in await cur.fetchall()]
        if not ids:
            return []
        await cur.execute("DELETE FROM attachments WHERE chat_id = ANY(%(ids)s) RETURNING sha256",
                          {"ids": ids})
        shas = [r["sha256"] for r in await cur.fetchall()]
        await cur.execute("DELETE FROM chats WHERE id = ANY(%(ids)s)", {"ids": ids})
        return shas


# MESSAGE_SELECT plus the chat's site, for fan-out in another process.
_MESSAGE_WITH_SITE = MESSAGE_SELECT.replace(
    "SELECT ", "SELECT (SELECT site_id FROM chats sc WHERE sc.id = m.chat_id) AS site_id, ", 1)


async def messages_by_pairs(pool, pairs: list[tuple[int, int]]) -> list[dict]:
    """Messages named by (chat id, seq), in seq order per chat."""
    return await db.fetchall(
        pool, _MESSAGE_WITH_SITE +
        " WHERE (m.chat_id, m.seq) IN (SELECT * FROM unnest(%(c)s::bigint[], %(s)s::int[]))"
        " ORDER BY m.chat_id, m.seq",
        {"c": [c for c, _ in pairs], "s": [s for _, s in pairs]})


async def messages_since(pool, since_epoch: float, *, chat_ids: list[int],
                         site_ids: list[int], limit: int = 20_000) -> list[dict]:
    """Messages stored since a moment in the given chats or sites, in seq order per chat."""
    return await db.fetchall(
        pool, _MESSAGE_WITH_SITE +
        " WHERE m.created_at >= to_timestamp(%(t)s) AND (m.chat_id = ANY(%(c)s)"
        " OR m.chat_id IN (SELECT id FROM chats WHERE site_id = ANY(%(s)s)))"
        " ORDER BY m.chat_id, m.seq LIMIT %(limit)s",
        {"t": since_epoch, "c": chat_ids, "s": site_ids, "limit": limit})
