"""One visitor's data for an OWNER: all of it as JSON (access), or none of it left (erasure).

Erasure deletes the visitor's chats, messages and attachments in one transaction, then
the files no other attachment uses, then closes the visitor's open widgets (4410) in
every process: a reconnect joins as a new, empty visitor.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from aiohttp import web

from chatiq import keys

from chatiq.core import protocol
from chatiq.privacy.download import start_download, stream_failed
from chatiq.core.protocol import iso, make_id, parse_id
from chatiq.files.upload import storage_of
from chatiq.store import audit, chats, visitor_data
from chatiq.store.accounts import User
from chatiq.store.visitor_data import Erased
from chatiq.files.upload import release_blobs
from chatiq.core.wire import message_object

log = logging.getLogger(__name__)

# Messages per query while streaming a visitor's export.
PAGE = 500


async def find_visitor(pool, user: User, visitor_ref: str) -> dict:
    """The visitor, if they visited a site of the user's organization (NotFound otherwise)."""
    return await visitor_data.visitor_in_org(pool, user.org_id, parse_id("v", visitor_ref))


def visitor_object(row: dict) -> dict:
    return {"id": make_id("v", row["id"]), "siteId": make_id("s", row["site_id"]),
            "siteName": row["site_name"], "name": row["name"], "email": row["email"],
            "pageUrl": row["page_url"], "pageTitle": row["page_title"],
            "referrer": row["referrer"], "language": row["language"],
            "userAgent": row["user_agent"], "ip": row["ip"], "timezone": row["timezone"],
            "firstSeen": iso(row["first_seen"]), "lastSeen": iso(row["last_seen"])}


def _chat_object(row: dict) -> dict:
    return {"id": make_id("c", row["id"]), "siteId": make_id("s", row["site_id"]),
            "status": row["status"], "assignedTo": make_id("u", row["assigned_to"]),
            "createdAt": iso(row["created_at"]), "updatedAt": iso(row["updated_at"]),
            "closedAt": iso(row["closed_at"])}


def _attachment_object(row: dict) -> dict:
    return {"id": row["id"], "chatId": make_id("c", row["chat_id"]),
            "uploadedBy": row["uploader_kind"], "name": row["name"], "size": row["size"],
            "mime": row["mime"], "sent": row["used"], "createdAt": iso(row["created_at"])}


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


async def stream_visitor_export(request: web.Request, user: User,
                                visitor_ref: str) -> web.StreamResponse:
    """{"visitor", "chats": [{…, "messages": […]}], "attachments", "exportedAt"}, streamed."""
    pool = request.app[keys.POOL]
    visitor = await find_visitor(pool, user, visitor_ref)
    chat_rows = await visitor_data.visitor_chats(pool, visitor["id"])
    files = await visitor_data.visitor_attachments(pool, visitor["id"])
    ref = make_id("v", visitor["id"])
    await audit.record(pool, audit.VISITOR_EXPORTED, org_id=user.org_id, actor=user,
                       ip=request.remote, target=ref)
    response = await start_download(request, f"chatiq-visitor-{ref}.json",
                                    "application/json; charset=utf-8")
    try:
        await response.write(('{"visitor": ' + _dump(visitor_object(visitor))
                              + ', "chats": [').encode())
        for n, chat in enumerate(chat_rows):
            head = _dump(_chat_object(chat))[:-1] + ', "messages": ['
            await response.write((("," if n else "") + "\n" + head).encode())
            after, first = 0, True
            while True:
                page = await chats.messages_after(pool, chat["id"], after, PAGE)
                if page:
                    text = ",".join("\n" + _dump(message_object(m)) for m in page)
                    await response.write((("" if first else ",") + text).encode())
                    first, after = False, page[-1]["seq"]
                if len(page) < PAGE:
                    break
            await response.write(b"]}")
        now = iso(datetime.now(timezone.utc))
        await response.write(('],\n"attachments": ' + _dump([_attachment_object(f) for f in files])
                              + ',\n"exportedAt": ' + _dump(now) + "}\n").encode())
    except Exception as exc:
        return stream_failed(request, response, "visitor export", exc)
    await response.write_eof()
    return response


async def erase_visitor(app: web.Application, user: User, visitor_ref: str,
                        ip: str | None) -> tuple[str, Erased]:
    """Erase a visitor of the user's organization; (their id, what went)."""
    pool = app[keys.POOL]
    visitor = await find_visitor(pool, user, visitor_ref)
    erased = await visitor_data.erase_visitor(pool, visitor["id"])
    try:
        await release_blobs(pool, storage_of(app), erased.sha256s)
    except OSError:  # the rows are gone; a disk refusing deletes leaves orphan files only
        log.exception("erasing visitor %s: could not delete some files", visitor["id"])
    app[keys.HUB].end_visitor(visitor["id"], protocol.CLOSE_VISITOR_ERASED, "visitor data erased")
    ref = make_id("v", visitor["id"])
    await audit.record(pool, audit.VISITOR_ERASED, org_id=user.org_id, actor=user, ip=ip,
                       target=ref, details={"chats": erased.chats, "messages": erased.messages,
                                            "attachments": erased.attachments})
    return ref, erased
