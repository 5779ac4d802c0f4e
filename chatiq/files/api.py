"""POST /api/v1/uploads: one file, from an operator (Bearer JWT) or a visitor (siteKey + visitorToken).

Credentials are settled before the file part is read, so strangers cannot make us write to disk.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from chatiq import keys

from chatiq.files import upload as uploads
from chatiq.api.common import ApiError, pool, require_user
from chatiq.files.filetypes import DEFAULT_ALLOWED, Refused
from chatiq.core.origins import origin_allowed
from chatiq.core.protocol import parse_id
from chatiq.core.ratelimit import whole_seconds
from chatiq.files.storage import StorageError
from chatiq.files.upload import storage_of
from chatiq.store import attachments, chats, sites, visitors
from chatiq.core.wire import attachment_object

log = logging.getLogger(__name__)

FIELD_MAX_BYTES = 512
MAX_PARTS = 8
# Room for the multipart framing around the file when checking Content-Length up front.
MULTIPART_OVERHEAD = 16 * 1024
# Unsent uploads one uploader may have made in the last hour: a brake on filling the disk.
MAX_PENDING_PER_HOUR = 60
PENDING_RETRY_AFTER = 300

_REFUSED_STATUS = {"too_large": 413, "invalid": 422, "unsupported_type": 415}


@dataclass(frozen=True)
class Uploader:
    kind: str       # 'visitor' | 'operator'
    id: int
    # None: an operator who named no chat; the site is settled when a message uses the file.
    site_id: int | None


async def upload(request: web.Request) -> web.Response:
    user = await require_user(request) if "Authorization" in request.headers else None
    return await handle_upload(request, user)


async def handle_upload(request: web.Request, user) -> web.Response:
    """The upload itself, for an operator already authenticated (API token or the
    panel's session) or, with user None, a visitor named by the form's fields."""
    config = request.app[keys.CONFIG]
    limit = config.upload_limit_bytes
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError("invalid", "send the file as multipart/form-data", field="file", status=415)
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise _too_large(limit)
    storage = storage_of(request.app)
    reader = await _multipart(request)
    fields: dict[str, str] = {}
    uploader = received = client_name = None
    try:
        for _ in range(MAX_PARTS):
            part = await _next_part(reader)
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError("invalid", "nested multipart bodies are not accepted", field="file")
            if part.filename is None and part.name != "file":
                fields[part.name or ""] = await _field(part)
                continue
            if received is not None:
                raise ApiError("invalid", "send one file per upload", field="file")
            uploader = await _uploader(request, user, fields)
            client_name = part.filename
            received = await uploads.receive(part, storage, limit)
        else:
            raise ApiError("invalid", f"at most {MAX_PARTS} form fields", field="file")
        if received is None:
            raise ApiError("invalid", "no file in the form (field 'file')", field="file")
        attachment = await uploads.store(
            pool(request), storage, received, client_name=client_name,
            allowed=config.upload_types or DEFAULT_ALLOWED, site_id=uploader.site_id,
            uploader_kind=uploader.kind, uploader_id=uploader.id)
    except Refused as exc:
        if exc.code == "too_large":
            raise _too_large(limit) from None
        raise ApiError(exc.code, exc.message, field="file",
                       status=_REFUSED_STATUS.get(exc.code, 400)) from None
    except StorageError as exc:  # receive/store already removed what they had written
        raise _cannot_store(exc) from None
    except BaseException:
        if received is not None:
            with contextlib.suppress(OSError):
                received.path.unlink(missing_ok=True)
        raise
    body = attachment_object(attachment.id, attachment.name, attachment.size, attachment.mime,
                             attachment.has_thumb)
    return web.json_response({"attachment": body}, status=201)


async def _multipart(request: web.Request) -> MultipartReader:
    try:
        return await request.multipart()
    except (ValueError, HttpProcessingError) as exc:
        raise ApiError("invalid", f"malformed multipart body: {exc}", field="file",
                       status=400) from None


async def _next_part(reader: MultipartReader):
    """The next part; a malformed one (a NUL or newline in a file name, a broken
    boundary) is the client's error, answered 400."""
    try:
        return await reader.next()
    except (ValueError, HttpProcessingError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise ApiError("invalid", f"malformed multipart body: {message.splitlines()[0]}",
                       field="file", status=400) from None


def _too_large(limit: int) -> ApiError:
    # Connection: close — the rest of an oversized body is not worth reading.
    return ApiError("too_large", f"the file is larger than the limit of {limit:,} bytes",
                    field="file", headers={"Connection": "close"})


def _cannot_store(exc: StorageError) -> ApiError:
    """507 when the disk is full, 503 when it refuses writes; either way nothing was kept
    and the same upload may simply be tried again later."""
    log.error("upload refused, the file store cannot write: %s", exc)
    if exc.full:
        return ApiError("unavailable", "the server's storage is full; the file was not stored",
                        field="file", status=507)
    return ApiError("unavailable", "the server cannot store files right now; the file was"
                    " not stored", field="file", status=503)


async def _field(part: BodyPartReader) -> str:
    raw = b""
    while chunk := await part.read_chunk(FIELD_MAX_BYTES + 1 - len(raw)):
        raw += chunk
        if len(raw) > FIELD_MAX_BYTES:
            raise ApiError("invalid", f"form field '{part.name}' is too long", field=part.name)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ApiError("invalid", f"form field '{part.name}' is not UTF-8", field=part.name) from None


async def _uploader(request: web.Request, user, fields: dict[str, str]) -> Uploader:
    if user is not None:
        # chatId is optional (PROTOCOL §6); named, it must be a chat this operator may see.
        site_id = None
        if fields.get("chatId"):
            chat = await chats.chat_for(pool(request), user, parse_id("c", fields["chatId"]))
            site_id = chat["site_id"]
        uploader = Uploader("operator", user.id, site_id)
    else:
        uploader = await _visitor(request, fields)
    config = request.app[keys.CONFIG]
    if config.rate_limits_enabled:
        pending = await attachments.recent_unused_count(pool(request), uploader.kind, uploader.id,
                                                        3600)
        if pending >= MAX_PENDING_PER_HOUR:
            # A hint: the window slides, so some room comes back within the hour.
            raise ApiError("rate_limited", "too many unsent uploads, send or wait a while",
                           headers={"Retry-After": str(PENDING_RETRY_AFTER)})
    return uploader


async def _visitor(request: web.Request, fields: dict[str, str]) -> Uploader:
    ip, limiter = request.remote or "?", request.app[keys.UPLOAD_LIMITER]
    if request.app[keys.CONFIG].rate_limits_enabled and not limiter.allow(ip):
        wait = whole_seconds(limiter.retry_after(ip))
        raise ApiError("rate_limited", f"too many uploads from this address; retry in {wait} s",
                       headers={"Retry-After": str(wait)})
    site_key, token = fields.get("siteKey"), fields.get("visitorToken")
    if not site_key or not token:
        raise ApiError("unauthorized", "send a bearer token, or 'siteKey' and 'visitorToken'"
                                       " form fields before the file")
    site = await sites.site_by_key(pool(request), site_key)
    if site is None or not site.enabled:
        raise ApiError("unauthorized", "unknown or disabled site")
    if not origin_allowed(request.headers.get("Origin"), site.allowed_origins, request.host):
        raise ApiError("forbidden", "origin not allowed for this site")
    visitor = await visitors.visitor_by_token(pool(request), site.id, token)
    if visitor is None:
        raise ApiError("unauthorized", "unknown visitor token")
    return Uploader("visitor", visitor.id, site.id)
