"""One visitor's personal data: find it within an organization, list it, erase it."""

from __future__ import annotations

from dataclasses import dataclass

from chatiq.store import db

# Everything ChatIQ holds about a visitor except the hash of their session token.
_VISITOR_COLUMNS = ("v.id, v.site_id, s.name AS site_name, v.name, v.email, v.page_url,"
                    " v.page_title, v.referrer, v.language, v.user_agent, v.ip, v.timezone,"
                    " v.first_seen, v.last_seen")


@dataclass(frozen=True)
class Erased:
    """What erasing a visitor removed; `sha256s` are the blobs to release afterwards."""

    chats: int
    messages: int
    attachments: int
    sha256s: list[str]


async def visitor_in_org(pool, org_id: int, visitor_id: int | None) -> dict:
    """The visitor's row if they visited one of the organization's sites, else NotFound
    (the same answer for another tenant's visitor as for none)."""
    row = None if visitor_id is None else await db.fetchone(
        pool, "SELECT " + _VISITOR_COLUMNS + " FROM visitors v JOIN sites s ON s.id = v.site_id"
              " WHERE v.id = %(v)s AND s.org_id = %(org)s", {"v": visitor_id, "org": org_id})
    if row is None:
        raise db.NotFound("visitor not found")
    return row


async def visitor_chats(pool, visitor_id: int) -> list[dict]:
    return await db.fetchall(
        pool, "SELECT id, site_id, status, assigned_to, last_seq, created_at, updated_at,"
              " closed_at FROM chats WHERE visitor_id = %(v)s ORDER BY id", {"v": visitor_id})


async def visitor_attachments(pool, visitor_id: int) -> list[dict]:
    """Files the visitor uploaded (sent or not) and files anyone sent in their chats."""
    return await db.fetchall(
        pool, "SELECT a.id, a.chat_id, a.uploader_kind, a.name, a.size, a.mime, a.used,"
              " a.created_at FROM attachments a"
              " WHERE (a.uploader_kind = 'visitor' AND a.uploader_id = %(v)s)"
              "    OR a.chat_id IN (SELECT id FROM chats WHERE visitor_id = %(v)s)"
              " ORDER BY a.created_at, a.id", {"v": visitor_id})


async def erase_visitor(pool, visitor_id: int) -> Erased:
    """Delete the visitor, their chats, messages and attachments in one transaction.

    The visitor's row lock comes first, as when they post a message: a message being
    stored waits, then finds the visitor gone, and no new chat slips in meanwhile.
    """
    async with db.transaction(pool) as cur:
        await cur.execute("SELECT id FROM visitors WHERE id = %(v)s FOR UPDATE", {"v": visitor_id})
        if await cur.fetchone() is None:
            raise db.NotFound("visitor not found")
        await cur.execute("SELECT id FROM chats WHERE visitor_id = %(v)s ORDER BY id FOR UPDATE",
                          {"v": visitor_id})
        chat_ids = [r["id"] for r in await cur.fetchall()]
        await cur.execute("SELECT count(*) AS n FROM messages WHERE chat_id = ANY(%(ids)s)",
                          {"ids": chat_ids})
        messages = (await cur.fetchone())["n"]
        await cur.execute(
            "DELETE FROM attachments WHERE chat_id = ANY(%(ids)s)"
            " OR (uploader_kind = 'visitor' AND uploader_id = %(v)s) RETURNING sha256",
            {"ids": chat_ids, "v": visitor_id})
        shas = [r["sha256"] for r in await cur.fetchall()]
        # Chats, their messages and automation rows go with the visitor (ON DELETE CASCADE).
        await cur.execute("DELETE FROM visitors WHERE id = %(v)s", {"v": visitor_id})
        return Erased(chats=len(chat_ids), messages=messages, attachments=len(shas),
                      sha256s=shas)
