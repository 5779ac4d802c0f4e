"""Streamed file downloads: headers set before the first byte, since middlewares that
stamp headers on a finished response cannot touch one that is already streaming."""

from __future__ import annotations

import logging
import re

from aiohttp import web

log = logging.getLogger(__name__)

# A download must never run as a page: nothing loads, nothing frames it.
DOWNLOAD_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """ASCII letters, digits, dot, dash and underscore only: no quoting games in the header."""
    return _UNSAFE_NAME.sub("-", name).strip("-.") or "download"


async def start_download(request: web.Request, filename: str, content_type: str, *,
                         csp: str = DOWNLOAD_CSP) -> web.StreamResponse:
    """A prepared streaming response that saves as `filename`; write the body, then
    `await response.write_eof()`."""
    response = web.StreamResponse(headers={
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{safe_filename(filename)}"',
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    })
    response.enable_compression()
    await response.prepare(request)
    return response


def stream_failed(request: web.Request, response: web.StreamResponse, what: str,
                  exc: Exception) -> web.StreamResponse:
    """A failure after the headers went out: no error body can follow any more, so the
    connection is cut and the client sees an incomplete download, never a complete-looking
    short one."""
    if not isinstance(exc, ConnectionError):  # the client leaving is not our failure
        log.error("%s download failed half-way", what, exc_info=exc)
    if request.transport is not None:
        request.transport.abort()
    return response
