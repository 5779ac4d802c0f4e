"""Register, log in, log out, and who am I."""

from __future__ import annotations

import re

from aiohttp import web

from chatiq import keys
from chatiq.api.common import ApiError, pool, read_json, require_user
from chatiq.auth import issue_token
from chatiq.protocol import Str
from chatiq.security import check_password, hash_password
from chatiq.store import accounts
from chatiq.wire import user_object

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

REGISTER = {"email": Str(required=True, max_len=254, strip=True),
            "password": Str(required=True, max_len=200),
            "name": Str(required=True, max_len=100, min_len=1, strip=True),
            "organization": Str(required=True, max_len=100, min_len=1, strip=True)}
LOGIN = {"email": Str(required=True, max_len=254, strip=True),
         "password": Str(required=True, max_len=200)}


def check_email(email: str) -> str:
    if not EMAIL.match(email):
        raise ApiError("invalid", "email address is not valid", field="email")
    return email.lower()


def check_new_password(password: str) -> str:
    if len(password) < 8:
        raise ApiError("invalid", "password must be at least 8 characters", field="password")
    return password


def _rounds(request: web.Request) -> int:
    return request.app[keys.CONFIG].bcrypt_rounds


async def register(request: web.Request) -> web.Response:
    body = await read_json(request, REGISTER)
    email = check_email(body["email"])
    password = check_new_password(body["password"])
    _limit(request, "register:" + (request.remote or "?"))
    user = await accounts.create_org_with_owner(
        pool(request), org_name=body["organization"], email=email, name=body["name"],
        password_hash=await hash_password(password, _rounds(request)))
    return web.json_response({"token": issue_token(request.app, user), "user": user_object(user)},
                             status=201)


def _limit(request: web.Request, key: str) -> None:
    config = request.app[keys.CONFIG]
    limiter = request.app[keys.LOGIN_LIMITER]
    if config.rate_limits_enabled and not limiter.allow(key):
        wait = max(1, int(limiter.retry_after(key)) + 1)
        raise ApiError("rate_limited", "too many attempts, retry later",
                       headers={"Retry-After": str(wait)})


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LOGIN)
    email = body["email"].lower()
    _limit(request, "ip:" + (request.remote or "?"))
    _limit(request, "account:" + email)
    user = await accounts.user_by_email(pool(request), email)
    ok = await check_password(body["password"], user.password_hash if user else None)
    if not ok:
        raise ApiError("unauthorized", "wrong email or password")
    return web.json_response({"token": issue_token(request.app, user), "user": user_object(user)})


async def logout(request: web.Request) -> web.Response:
    """Revoke every token of this user (they all carry the old token version)."""
    user = await require_user(request)
    await accounts.bump_token_version(pool(request), user.id)
    return web.json_response({"ok": True})


async def me(request: web.Request) -> web.Response:
    user = await require_user(request)
    return web.json_response({"user": user_object(user)})
