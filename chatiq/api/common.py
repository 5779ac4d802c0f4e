"""Errors, JSON bodies and authentication shared by every API handler."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date

from aiohttp import web

from chatiq import keys
from chatiq.api.tokens import user_from_token
from chatiq.core.protocol import Field, ProtocolError, clean_fields, loads
from chatiq.store.accounts import User
from chatiq.store.db import DatabaseUnavailable, StoreError

log = logging.getLogger(__name__)

MAX_JSON_BODY = 256 * 1024

_STATUS = {"bad_json": 400, "bad_frame": 400, "invalid": 422, "too_large": 413,
           "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
           "rate_limited": 429, "unavailable": 503, "internal": 500}


class ApiError(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None,
                 status: int | None = None, headers: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
        self.status = status or _STATUS.get(code, 400)
        self.headers = headers or {}


def error_response(code: str, message: str, status: int, field: str | None = None,
                   headers: dict | None = None) -> web.Response:
    body = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return web.json_response({"error": body}, status=status, headers=headers)


@web.middleware
async def api_errors(request: web.Request, handler):
    """Every failure under /api/ becomes {"error": {code, message}} with its status."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.code, exc.message, exc.status, exc.field, exc.headers)
    except ProtocolError as exc:
        code = "invalid" if exc.code == "bad_frame" else exc.code
        return error_response(code, exc.message, _STATUS.get(code, 400), exc.field)
    except DatabaseUnavailable:
        return error_response("unavailable", "the database is unavailable, retry later", 503)
    except StoreError as exc:
        return error_response(exc.code, str(exc), _STATUS.get(exc.code, 400))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status, "http_error")
        return error_response(code, exc.reason, exc.status)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response("internal", "internal server error", 500)


async def read_json(request: web.Request, spec: dict[str, Field]) -> dict:
    """The request's JSON object body, validated against `spec`."""
    if request.content_length is not None and request.content_length > MAX_JSON_BODY:
        raise ApiError("too_large", "request body is too large")
    raw = await request.content.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        raise ApiError("too_large", "request body is too large")
    try:
        body = loads(raw or b"null")  # refuses lone surrogates like the sockets
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError("bad_json", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("bad_json", "request body must be a JSON object")
    return clean_fields(spec, body)


async def require_user(request: web.Request) -> User:
    """The operator behind `Authorization: Bearer <JWT>`, or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("unauthorized", "missing bearer token")
    user = await user_from_token(request.app, token.strip())
    if user is None:
        raise ApiError("unauthorized", "invalid or expired token")
    return user


def require_owner(user: User) -> None:
    if not user.is_owner:
        raise ApiError("forbidden", "only an owner may do this")


def pool(request: web.Request):
    return request.app[keys.POOL]


def query_int(request: web.Request, name: str, default: int, *, minimum: int = 0,
              maximum: int = 2**31 - 1) -> int:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("invalid", f"'{name}' must be an integer", field=name) from None
    if not minimum <= value <= maximum:
        raise ApiError("invalid", f"'{name}' must be between {minimum} and {maximum}", field=name)
    return value


def query_date(query: Mapping[str, str], name: str, default: date) -> date:
    """A YYYY-MM-DD query parameter, or `default` when it is absent or empty."""
    raw = query.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError("invalid", f"'{name}' must be a date like 2026-03-01", field=name) from None
