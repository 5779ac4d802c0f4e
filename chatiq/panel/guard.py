"""What every /admin request passes through: CSRF on writes, strict headers, error pages."""

from __future__ import annotations

from aiohttp import web

from chatiq.panel.render import render
from chatiq.panel.session import csrf_ok
from chatiq.store.db import DatabaseUnavailable, NotFound

PANEL_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
             "img-src 'self' data: blob: https:; connect-src 'self' ws: wss:; "
             "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_HEADERS = {"Content-Security-Policy": PANEL_CSP, "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Page-level failures rendered as a page: status → i18n key of the explanation.
_ERRORS = {403: "error.forbidden", 404: "error.not_found", 503: "error.unavailable"}


def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return
    for name, value in _HEADERS.items():
        if name == "Cache-Control" and request.path.startswith("/admin/static/"):
            continue
        response.headers[name] = value


@web.middleware
async def panel_guard(request: web.Request, handler):
    if not request.path.startswith("/admin"):
        return await handler(request)
    try:
        if request.method not in _SAFE_METHODS and not await _csrf_valid(request):
            response = await _error_page(request, 403, "error.csrf")
        else:
            response = await handler(request)
    except web.HTTPException as exc:
        if exc.status in _ERRORS and not request.path.startswith("/admin/api/") \
                and not request.path.startswith("/admin/static/"):
            response = await _error_page(request, exc.status, _ERRORS[exc.status])
        else:
            _stamp(request, exc)
            raise
    except NotFound:
        response = await _not_found(request)
    except DatabaseUnavailable:
        response = await _error_page(request, 503, "error.unavailable")
    _stamp(request, response)
    return response


async def _not_found(request: web.Request) -> web.StreamResponse:
    """Another tenant's things look exactly like things that do not exist."""
    if request.path.startswith("/admin/api/"):
        return web.json_response({"error": {"code": "not_found", "message": "not found"}},
                                 status=404)
    return await _error_page(request, 404, "error.not_found")


async def _csrf_valid(request: web.Request) -> bool:
    presented = request.headers.get("X-CSRF-Token")
    if presented is None and request.content_type in ("application/x-www-form-urlencoded",
                                                      "multipart/form-data"):
        form = await request.post()
        value = form.get("_csrf")
        presented = value if isinstance(value, str) else None
    return await csrf_ok(request, presented)


async def _error_page(request: web.Request, status: int, message_key: str) -> web.Response:
    if request.path.startswith("/admin/api/"):
        code = {403: "forbidden", 404: "not_found", 503: "unavailable"}.get(status, "error")
        return web.json_response({"error": {"code": code, "message": message_key}},
                                 status=status)
    return await render(request, "error.html", {"status": status, "message_key": message_key},
                        status=status)
