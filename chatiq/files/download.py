"""GET /files/{id}/{name} and /files/{id}/thumb: attachments, only for the chat's participants.

A visitor's <img> cannot send headers, so visitors authenticate with ?t=<visitorToken>&k=<siteKey>.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from chatiq import keys
from chatiq.api.common import error_response
from chatiq.api.tokens import user_from_token
from chatiq.files.filetypes import BY_MIME
from chatiq.files.images import thumbnail_mime
from chatiq.files.upload import storage_of
from chatiq.store import chats, sites, visitors
from chatiq.store.accounts import User
from chatiq.store.attachments import Attachment, attachment_by_id
from chatiq.store.db import NotFound
from chatiq.files.upload import thumb_key

# `sandbox` makes anything a browser does render (a PDF viewer, a mislabelled file)
# run as a unique origin without scripts: it can never act as our pages.
FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


class _Denied(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def download(request: web.Request) -> web.StreamResponse:
    return await _serve(request, thumb=False)


async def thumbnail(request: web.Request) -> web.StreamResponse:
    return await _serve(request, thumb=True)


async def _serve(request: web.Request, *, thumb: bool) -> web.StreamResponse:
    try:
        att = await _readable(request, request.match_info["id"])
        if thumb and not att.has_thumb:
            raise _Denied(404, "not_found", "this attachment has no preview")
    except _Denied as exc:
        return error_response(exc.code, exc.message, exc.status)
    path = storage_of(request.app).local_path(thumb_key(att.sha256) if thumb else att.sha256)
    if path is None or not path.is_file():
        return error_response("not_found", "file not found", 404)
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        # Immutable bytes behind an unguessable id, but only for this browser.
        "Cache-Control": "private, max-age=86400",
        "Cross-Origin-Resource-Policy": "cross-origin",  # the widget shows it on the customer's site
    }
    if thumb:
        with path.open("rb") as fh:
            headers["Content-Type"] = thumbnail_mime(fh.read(8))
        headers["Content-Disposition"] = _disposition("inline", "preview-" + att.name)
    else:
        ftype = BY_MIME.get(att.mime)
        inline = ftype is not None and ftype.inline
        headers["Content-Type"] = att.mime + ("; charset=utf-8" if att.mime.startswith("text/") else "")
        headers["Content-Disposition"] = _disposition("inline" if inline else "attachment", att.name)
    return web.FileResponse(path, headers=headers)


def _disposition(kind: str, name: str) -> str:
    """RFC 6266 with an ASCII fallback and the real name in RFC 5987's filename*."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%;' else "_" for ch in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _readable(request: web.Request, att_id: str) -> Attachment:
    """The attachment if the caller took part in its chat (or uploaded it and has not sent
    it yet); 401 without credentials, 404 for everyone else, as if it did not exist."""
    pool = request.app[keys.POOL]
    user = await _operator(request)
    visitor_id = site = None
    if user is None:
        token, site_key = request.query.get("t"), request.query.get("k")
        if not token or not site_key:
            raise _Denied(401, "unauthorized", "sign in, or pass ?t=<visitorToken>&k=<siteKey>")
        site = await sites.site_by_key(pool, site_key)
        visitor = None if site is None or not site.enabled else (
            await visitors.visitor_by_token(pool, site.id, token))
        if visitor is None:
            raise _Denied(401, "unauthorized", "unknown site key or visitor token")
        visitor_id = visitor.id
    att = await attachment_by_id(pool, att_id) if len(att_id) <= 64 else None
    if att is None:
        raise _Denied(404, "not_found", "file not found")
    if user is not None:
        allowed = await _operator_may_read(pool, user, att)
    elif not att.used:
        allowed = att.uploader_kind == "visitor" and att.uploader_id == visitor_id
    else:
        allowed = att.site_id == site.id and att.chat_visitor_id == visitor_id
    if not allowed:
        raise _Denied(404, "not_found", "file not found")
    return att


async def _operator_may_read(pool, user: User, att: Attachment) -> bool:
    if not att.used:
        return att.uploader_kind == "operator" and att.uploader_id == user.id
    try:
        await chats.chat_for(pool, user, att.chat_id)
    except NotFound:
        return False
    return True


async def _operator(request: web.Request) -> User | None:
    """The operator behind a Bearer JWT or the panel's session cookie; a bad JWT is a 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = await user_from_token(request.app, token.strip())
        if user is None:
            raise _Denied(401, "unauthorized", "invalid or expired token")
        return user
    session_auth = request.app.get(keys.SESSION_AUTH)
    return await session_auth(request) if session_auth is not None else None
