"""Visitors: found by the hash of their token, never by the token itself; a verified
visitor is one row per (site, customer id) with a token per device."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from chatiq.core.security import new_token, token_hash
from chatiq.store import db
from chatiq.store.chats import EventHook


@dataclass(frozen=True, slots=True)
class Visitor:
    id: int
    site_id: int
    name: str | None
    email: str | None
    page_url: str | None
    page_title: str | None
    referrer: str | None
    language: str | None
    user_agent: str | None
    timezone: str | None
    first_seen: datetime
    last_seen: datetime
    external_id: str | None = None  # the site's customer id, once its hash verified

    @property
    def display_name(self) -> str:
        return self.name or f"Visitor #{self.id}"


_COLUMNS = ("id, site_id, name, email, page_url, page_title, referrer, language, user_agent,"
            " timezone, first_seen, last_seen, external_id")

# A token is either the visitor's first (visitors.token_hash) or a further device's.
_BY_TOKEN = (
    "SELECT " + _COLUMNS + " FROM visitors WHERE site_id = %(s)s AND id = COALESCE("
    " (SELECT id FROM visitors WHERE token_hash = %(h)s),"
    " (SELECT visitor_id FROM visitor_tokens WHERE token_hash = %(h)s))")


async def visitor_by_token(pool, site_id: int, token: str) -> Visitor | None:
    row = await db.fetchone(pool, _BY_TOKEN, {"h": token_hash(token), "s": site_id})
    return None if row is None else Visitor(**row)


async def create_visitor(pool, *, site_id: int, token: str, info: dict) -> Visitor:
    row = await db.fetchone(
        pool,
        "INSERT INTO visitors (site_id, token_hash, page_url, page_title, referrer, language,"
        " user_agent, ip, timezone) VALUES (%(s)s, %(h)s, %(url)s, %(title)s, %(ref)s, %(lang)s,"
        " %(ua)s, %(ip)s, %(tz)s) RETURNING " + _COLUMNS,
        {"s": site_id, "h": token_hash(token), **_info_params(info)})
    return Visitor(**row)


def _info_params(info: dict) -> dict:
    return {"url": info.get("pageUrl"), "title": info.get("pageTitle"),
            "ref": info.get("referrer"), "lang": info.get("language"),
            "ua": info.get("userAgent"), "ip": info.get("ip"), "tz": known_timezone(info.get("timezone"))}


def known_timezone(name: str | None) -> str | None:
    """An IANA zone name the server knows, else None (a browser may send anything)."""
    if not name:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return name


# What a join or a page change records; a value not sent keeps the old one.
_TOUCH = (
    "last_seen = now(),"
    " page_url = COALESCE(%(url)s, page_url), page_title = COALESCE(%(title)s, page_title),"
    " referrer = COALESCE(%(ref)s, referrer), language = COALESCE(%(lang)s, language),"
    " user_agent = COALESCE(%(ua)s, user_agent), ip = COALESCE(%(ip)s, ip),"
    " timezone = COALESCE(%(tz)s, timezone)")


async def touch_visitor(pool, visitor_id: int, info: dict) -> Visitor:
    """Record where the visitor is now; keep old values for what was not sent."""
    row = await db.fetchone(
        pool,
        "UPDATE visitors SET " + _TOUCH + " WHERE id = %(id)s RETURNING " + _COLUMNS,
        {"id": visitor_id, **_info_params(info)})
    if row is None:
        raise db.NotFound("visitor not found")
    return Visitor(**row)


@dataclass(frozen=True)
class VerifiedJoin:
    visitor: Visitor
    token: str                  # what this device keeps: the one it sent, or a new one
    identified: bool            # a customer seen for the first time, or an anonymous
                                # visitor who just identified: the "visitor identified" event
    changed: bool               # operators should see the visitor anew (badge, name, a chat
                                # that moved over from the device's anonymous visitor)


async def join_verified(pool, *, site_id: int, external_id: str, name: str | None,
                        email: str | None, token: str | None, info: dict,
                        on_event: EventHook | None = None) -> VerifiedJoin:
    """The one visitor of (site, customer id), whichever device `token` comes from.

    A device without that visitor's token gets a new one. The device's anonymous
    visitor keeps its token; its chat moves over when that hides nothing of the
    customer's own (see `_move_chat`). `on_event` hears "visitor.identified" inside the
    transaction (webhooks), once per customer and once per anonymous visitor who signs in."""
    async with db.transaction(pool) as cur:
        current = None
        if token:
            await cur.execute(_BY_TOKEN, {"h": token_hash(token), "s": site_id})
            current = await cur.fetchone()
        anonymous = current is not None and current["external_id"] is None
        known = await _customer(cur, site_id, external_id)
        if known is not None and current is not None and current["id"] == known["id"]:
            out_token, identified = token, False
        elif known is not None:
            out_token, identified = new_token(), anonymous
            await _add_token(cur, out_token, known["id"])
        else:
            out_token, identified = new_token(), True
            await cur.execute(
                "INSERT INTO visitors (site_id, token_hash, external_id)"
                " VALUES (%(s)s, %(h)s, %(x)s)"
                " ON CONFLICT (site_id, external_id) WHERE external_id IS NOT NULL DO NOTHING",
                {"s": site_id, "h": token_hash(out_token), "x": external_id})
            lost_race = cur.rowcount == 0  # another device of the same customer was first
            known = await _customer(cur, site_id, external_id)
            if lost_race:
                identified = anonymous
                await _add_token(cur, out_token, known["id"])
        moved = await _move_chat(cur, current["id"], known["id"]) if anonymous else None
        await cur.execute(
            "UPDATE visitors SET name = COALESCE(%(name)s, name),"
            " email = COALESCE(%(email)s, email), " + _TOUCH +
            " WHERE id = %(id)s RETURNING " + _COLUMNS,
            {"id": known["id"], "name": name or None, "email": email or None,
             **_info_params(info)})
        visitor = Visitor(**await cur.fetchone())
        if identified and on_event is not None:
            await cur.execute("SELECT max(id) AS id FROM chats WHERE visitor_id = %(v)s",
                              {"v": visitor.id})
            await on_event(cur, "visitor.identified", site_id, {
                "visitor": visitor, "chat_id": (await cur.fetchone())["id"],
                # what tells this identification from the visitor's others (dedupe key)
                "occurrence": f"anon{current['id']}" if anonymous else "first"})
    changed = (identified or moved is not None
               or (visitor.name, visitor.email) != (known["name"], known["email"]))
    return VerifiedJoin(visitor, out_token, identified, changed)


async def _add_token(cur, token: str, visitor_id: int) -> None:
    await cur.execute(
        "INSERT INTO visitor_tokens (token_hash, visitor_id) VALUES (%(h)s, %(v)s)",
        {"h": token_hash(token), "v": visitor_id})


async def _customer(cur, site_id: int, external_id: str) -> dict | None:
    """The verified visitor's row, locked: joins of one customer take turns."""
    await cur.execute(
        "SELECT " + _COLUMNS + " FROM visitors WHERE site_id = %(s)s AND external_id = %(x)s"
        " FOR UPDATE", {"s": site_id, "x": external_id})
    return await cur.fetchone()


async def _move_chat(cur, anonymous_id: int, verified_id: int) -> int | None:
    """Give the anonymous visitor's chat to the verified one when it becomes their current
    chat without hiding one of theirs: they have none, or only a closed older one while
    this one is open. Otherwise it stays with the anonymous visitor (operators keep it)."""
    await cur.execute(
        "SELECT id, status FROM chats WHERE visitor_id = %(v)s ORDER BY id DESC LIMIT 1",
        {"v": anonymous_id})
    theirs = await cur.fetchone()
    if theirs is None:
        return None
    await cur.execute(
        "SELECT id, status FROM chats WHERE visitor_id = %(v)s ORDER BY id DESC LIMIT 1",
        {"v": verified_id})
    own = await cur.fetchone()
    if own is not None and not (own["status"] == "closed" and theirs["status"] == "open"
                                and theirs["id"] > own["id"]):
        return None
    params = {"c": theirs["id"], "from": anonymous_id, "to": verified_id}
    await cur.execute("UPDATE chats SET visitor_id = %(to)s WHERE id = %(c)s", params)
    await cur.execute(
        "UPDATE messages SET author_id = %(to)s WHERE chat_id = %(c)s"
        " AND author_kind = 'visitor' AND author_id = %(from)s", params)
    # Its files, and uploads not sent yet (a message in the widget's outbox may name one).
    await cur.execute(
        "UPDATE attachments SET uploader_id = %(to)s WHERE uploader_kind = 'visitor'"
        " AND uploader_id = %(from)s AND (chat_id = %(c)s OR NOT used)", params)
    return theirs["id"]


async def language_in_chat(pool, chat_id: int) -> str | None:
    """The language tag of the visitor a chat belongs to (as their browser said it)."""
    row = await db.fetchone(
        pool, "SELECT v.language FROM chats c JOIN visitors v ON v.id = c.visitor_id"
              " WHERE c.id = %(c)s", {"c": chat_id})
    return row["language"] if row else None
