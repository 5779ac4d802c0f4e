"""Register, log in, log out, and who am I."""

from __future__ import annotations

import re

from aiohttp import web

from chatiq import keys
from chatiq.api.common import ApiError, pool, read_json, require_user
from chatiq.api.tokens import issue_token
from chatiq.api.audit import record_request
from chatiq.core.protocol import Str
from chatiq.core import ratelimit
from chatiq.core.ratelimit import whole_seconds
from chatiq.core.security import check_password, hash_password
from chatiq.store import accounts, audit
from chatiq.store.login_limits import ACCOUNT_IP_KEY, ACCOUNT_KEY, IP_KEY, Check
from chatiq.core.wire import user_object

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
    if wait := take_attempt(request, signup_check(request)):
        raise too_many(wait)
    user = await accounts.create_org_with_owner(
        pool(request), org_name=body["organization"], email=email, name=body["name"],
        password_hash=await hash_password(password, _rounds(request)))
    await record_request(request, audit.REGISTERED, user, details={"via": "api"})
    return web.json_response({"token": issue_token(request.app, user), "user": user_object(user)},
                             status=201)


def login_checks(request: web.Request, email: str) -> list[Check]:
    """The limits on failed logins (ratelimit.py says why these three), for the API and
    the panel alike: one lockout for both doors."""
    ip = request.remote or "?"
    return [Check("login_ip", IP_KEY + ip, ratelimit.LOGIN_FAILURES_PER_IP),
            Check("login_account", ACCOUNT_KEY + email, ratelimit.LOGIN_FAILURES_PER_ACCOUNT),
            Check("login_account_ip", f"{ACCOUNT_IP_KEY}{ip} {email}",
                  ratelimit.LOGIN_FAILURES_PER_ACCOUNT_AND_IP)]


async def take_login_attempt(request: web.Request, checks: list[Check]) -> int:
    """Count one attempt against every limit and return 0; or, if any has none left, count
    nothing and return the whole seconds to wait. Counting before the attempt (not after it
    failed) keeps a thousand concurrent guesses from all slipping by."""
    if not request.app[keys.CONFIG].rate_limits_enabled:
        return 0
    wait = await request.app[keys.LOGIN_LIMITS].take(checks)
    return whole_seconds(wait) if wait > 0 else 0


async def give_back_login(request: web.Request, checks: list[Check]) -> None:
    """Return an attempt that succeeded: only failed logins count."""
    if request.app[keys.CONFIG].rate_limits_enabled:
        await request.app[keys.LOGIN_LIMITS].give_back(checks)


def signup_check(request: web.Request) -> tuple[web.AppKey, str]:
    return keys.SIGNUP_LIMITER, "signup:" + (request.remote or "?")


def take_attempt(request: web.Request, check: tuple[web.AppKey, str]) -> int:
    """Count one attempt against the (per-process) limiter and return 0; or, if it has none
    left, return the whole seconds to wait."""
    if not request.app[keys.CONFIG].rate_limits_enabled:
        return 0
    limiter, key = request.app[check[0]], check[1]
    return 0 if limiter.allow(key) else whole_seconds(limiter.retry_after(key))


def too_many(seconds: int) -> ApiError:
    return ApiError("rate_limited", f"too many attempts; retry in {seconds} s",
                    headers={"Retry-After": str(seconds)})


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LOGIN)
    email = body["email"].lower()
    # A locked account refuses even the right password until its wait is over.
    checks = login_checks(request, email)
    if wait := await take_login_attempt(request, checks):
        raise too_many(wait)
    user = await accounts.user_by_email(pool(request), email)
    ok = await check_password(body["password"], user.password_hash if user else None)
    if not ok:
        await record_request(request, audit.LOGIN_FAILED, org_id=user.org_id if user else None,
                             actor_id=user.id if user else None, actor_email=email,
                             details={"via": "api"})
        raise ApiError("unauthorized", "wrong email or password")
    await give_back_login(request, checks)
    await record_request(request, audit.LOGIN, user, details={"via": "api"})
    return web.json_response({"token": issue_token(request.app, user), "user": user_object(user)})


async def logout(request: web.Request) -> web.Response:
    """Revoke every token of this user (they all carry the old token version)."""
    user = await require_user(request)
    await accounts.bump_token_version(pool(request), user.id)
    await record_request(request, audit.LOGOUT, user, details={"via": "api"})
    return web.json_response({"ok": True})


async def me(request: web.Request) -> web.Response:
    user = await require_user(request)
    return web.json_response({"user": user_object(user)})
