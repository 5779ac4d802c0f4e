"""Every message of the chats started in a date range, as JSON Lines or CSV, streamed.

Rows come from keyset pages (chatiq/store/export.py) and go out page by page; each
write waits for the client to take it, so a slow reader slows the export down instead
of piling rows up in memory. One row per message, ordered by site, chat start, seq.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from chatiq import keys
from chatiq.api.common import ApiError, query_date
from chatiq.core.timezones import valid_timezone
from chatiq.privacy.download import start_download, stream_failed
from chatiq.core.protocol import iso, make_id, parse_id
from chatiq.store import audit, sites
from chatiq.store import export as store
from chatiq.store.accounts import User
from chatiq.core.wire import message_object

FORMATS = ("jsonl", "csv")
DEFAULT_DAYS = 30
# Keyset page sizes: how many chats, then how many of their messages, per query.
CHAT_PAGE = 200
MESSAGE_PAGE = 1000

COLUMNS = ("siteId", "chatId", "chatStatus", "chatCreatedAt", "chatClosedAt", "assignedTo",
           "visitorId", "visitorName", "visitorEmail", "messageId", "seq", "authorKind",
           "authorId", "authorName", "text", "attachmentName", "attachmentMime",
           "attachmentSize", "createdAt")


@dataclass(frozen=True)
class ExportRange:
    first: date
    last: date
    tz: str
    site_ids: list[int]
    site_ref: str | None
    fmt: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), ZoneInfo(self.tz))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), ZoneInfo(self.tz))


async def export_range(pool, user: User, query: Mapping[str, str]) -> ExportRange:
    """The export's dates, zone, format and sites from the query string, or ApiError
    naming the parameter; a site the user may not see is NotFound."""
    fmt = query.get("format") or "jsonl"
    if fmt not in FORMATS:
        raise ApiError("invalid", "'format' must be jsonl or csv", field="format")
    tz = query.get("tz") or "UTC"
    if not valid_timezone(tz):
        raise ApiError("invalid", "'tz' must be an IANA time zone like Europe/Kyiv", field="tz")
    last = query_date(query, "to", datetime.now(ZoneInfo(tz)).date())
    first = query_date(query, "from", last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise ApiError("invalid", "'to' is before 'from'", field="to")
    if query.get("siteId"):
        site = await sites.site_for(pool, user, parse_id("s", query["siteId"]))
        site_ids, site_ref = [site.id], make_id("s", site.id)
    else:
        site_ids, site_ref = [s.id for s in await sites.sites_for(pool, user)], None
    return ExportRange(first, last, tz, site_ids, site_ref, fmt)


async def export_rows(pool, rng: ExportRange) -> AsyncIterator[list[dict]]:
    """Pages of export rows (one per message), never more than MESSAGE_PAGE at a time."""
    for site_id in rng.site_ids:
        after = None
        while True:
            chats = await store.chat_page(pool, site_id, rng.start, rng.end, after, CHAT_PAGE)
            if not chats:
                break
            after = (chats[-1]["created_at"], chats[-1]["id"])
            by_id = {c["id"]: c for c in chats}
            ids = [c["id"] for c in chats]
            cursor = (0, 0)
            while True:
                messages = await store.message_page(pool, ids, cursor, MESSAGE_PAGE)
                if messages:
                    yield [export_row(by_id[m["chat_id"]], m) for m in messages]
                    cursor = (messages[-1]["pos"], messages[-1]["seq"])
                if len(messages) < MESSAGE_PAGE:
                    break
            if len(chats) < CHAT_PAGE:
                break


def export_row(chat: dict, message: dict) -> dict:
    wire = message_object(message)
    author, attachment = wire["author"], wire["attachment"] or {}
    return {
        "siteId": make_id("s", chat["site_id"]),
        "chatId": make_id("c", chat["id"]),
        "chatStatus": chat["status"],
        "chatCreatedAt": iso(chat["created_at"]),
        "chatClosedAt": iso(chat["closed_at"]),
        "assignedTo": make_id("u", chat["assigned_to"]),
        "visitorId": make_id("v", chat["visitor_id"]),
        "visitorName": chat["visitor_name"],
        "visitorEmail": chat["visitor_email"],
        "messageId": make_id("m", message["id"]),
        "seq": message["seq"],
        "authorKind": message["author_kind"],
        "authorId": author["id"],
        "authorName": author["name"],
        "text": message["text"],
        "attachmentName": attachment.get("name"),
        "attachmentMime": attachment.get("mime"),
        "attachmentSize": attachment.get("size"),
        "createdAt": iso(message["created_at"]),
    }


def csv_cell(value):
    """Text as a spreadsheet shows it, never as a formula (=HYPERLINK(…) and friends)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(rows: list[dict], header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


def jsonl_lines(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


async def stream_export(request: web.Request, user: User) -> web.StreamResponse:
    """Validate, log the export, then stream it (shared by the API and the panel)."""
    pool = request.app[keys.POOL]
    rng = await export_range(pool, user, request.query)
    await audit.record(pool, audit.DATA_EXPORTED, org_id=user.org_id, actor=user,
                       ip=request.remote, target=rng.site_ref,
                       details={"from": rng.first.isoformat(), "to": rng.last.isoformat(),
                                "tz": rng.tz, "format": rng.fmt})
    name = f"chatiq-export-{rng.first.isoformat()}-{rng.last.isoformat()}.{rng.fmt}"
    content_type = ("text/csv; charset=utf-8" if rng.fmt == "csv"
                    else "application/x-ndjson; charset=utf-8")
    response = await start_download(request, name, content_type)
    try:
        if rng.fmt == "csv":
            await response.write(csv_lines([], header=True).encode())
        async for rows in export_rows(pool, rng):
            text = csv_lines(rows) if rng.fmt == "csv" else jsonl_lines(rows)
            await response.write(text.encode())
    except Exception as exc:
        return stream_failed(request, response, "export", exc)
    await response.write_eof()
    return response
