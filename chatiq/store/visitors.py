"""Visitors: found by the hash of their token, never by the token itself."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from chatiq.security import token_hash
from chatiq.store import db


@dataclass(frozen=True)
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

    @property
    def display_name(self) -> str:
        return self.name or f"Visitor #{self.id}"


_COLUMNS = ("id, site_id, name, email, page_url, page_title, referrer, language, user_agent,"
            " timezone, first_seen, last_seen")


async def visitor_by_token(pool, site_id: int, token: str) -> Visitor | None:
    row = await db.fetchone(
        pool, "SELECT " + _COLUMNS + " FROM visitors WHERE token_hash = %(h)s AND site_id = %(s)s",
        {"h": token_hash(token), "s": site_id})
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


async def touch_visitor(pool, visitor_id: int, info: dict) -> Visitor:
    """Record where the visitor is now; keep old values for what was not sent."""
    row = await db.fetchone(
        pool,
        "UPDATE visitors SET last_seen = now(),"
        " page_url = COALESCE(%(url)s, page_url), page_title = COALESCE(%(title)s, page_title),"
        " referrer = COALESCE(%(ref)s, referrer), language = COALESCE(%(lang)s, language),"
        " user_agent = COALESCE(%(ua)s, user_agent), ip = COALESCE(%(ip)s, ip),"
        " timezone = COALESCE(%(tz)s, timezone)"
        " WHERE id = %(id)s RETURNING " + _COLUMNS,
        {"id": visitor_id, **_info_params(info)})
    if row is None:
        raise db.NotFound("visitor not found")
    return Visitor(**row)


async def visitor_by_id(pool, visitor_id: int) -> Visitor | None:
    row = await db.fetchone(
        pool, "SELECT " + _COLUMNS + " FROM visitors WHERE id = %(id)s", {"id": visitor_id})
    return None if row is None else Visitor(**row)
