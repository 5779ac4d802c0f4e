"""Sign up, log in, log out, the language switch and invited operators' first password."""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import get_session

from chatiq import keys
from chatiq.api.auth import (EMAIL, LOGIN, REGISTER, give_back_login, login_checks,
                             signup_check, take_attempt, take_login_attempt)
from chatiq.panel import i18n
from chatiq.panel.access import safe_next
from chatiq.panel.render import render
from chatiq.panel.session import LANGUAGES, current_user, language, sign_in, sign_out
from chatiq.api.audit import record_request
from chatiq.core.protocol import ProtocolError, Str, clean_fields
from chatiq.core.security import check_password, hash_password
from chatiq.store import accounts, audit, invitations
from chatiq.store.db import Conflict

MIN_PASSWORD = 8
# Sign-up form field → the i18n key (under "field.") of its label.
_LABELS = {"organization": "organization", "name": "your_name", "email": "email"}
INVITE_ACCEPT = {"name": Str(required=True, max_len=100, min_len=1, strip=True),
                 "password": Str(required=True, max_len=200)}


def _pool(request: web.Request):
    return request.app[keys.POOL]


async def _error(request: web.Request, key: str, field: str | None = None, **kw) -> dict:
    return {"text": i18n.translate(await language(request), key, **kw), "field": field}


def _field_error_key(exc: ProtocolError) -> str:
    return "form.too_long" if exc.code == "too_large" else "form.required"


async def index(request: web.Request) -> web.Response:
    """First run: no user at all → sign-up; otherwise the chats (or the login form)."""
    if await current_user(request) is not None:
        raise web.HTTPFound("/admin/chats")
    if await accounts.count_users(_pool(request)) == 0:
        raise web.HTTPFound("/admin/signup")
    raise web.HTTPFound("/admin/login")


async def _too_many(request: web.Request, template: str, ctx: dict,
                   seconds: int) -> web.Response:
    ctx["error"] = await _error(request, "auth.rate_limited", seconds=seconds)
    response = await render(request, template, ctx, status=429)
    response.headers["Retry-After"] = str(seconds)
    return response


async def login_page(request: web.Request) -> web.Response:
    if await current_user(request) is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return await render(request, "login.html", {"next": request.query.get("next", "")})


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    next_url = str(form.get("next", ""))
    ctx = {"email": email, "next": next_url}
    try:
        clean_fields(LOGIN, {"email": email, "password": password})
    except ProtocolError:
        ctx["error"] = await _error(request, "auth.bad_credentials")
        return await render(request, "login.html", ctx, status=400)
    checks = login_checks(request, email)  # the API's limits: one lockout for both doors
    if wait := await take_login_attempt(request, checks):
        return await _too_many(request, "login.html", ctx, wait)
    user = await accounts.user_by_email(_pool(request), email)
    if not await check_password(password, user.password_hash if user else None):
        await record_request(request, audit.LOGIN_FAILED, org_id=user.org_id if user else None,
                             actor_id=user.id if user else None, actor_email=email,
                             details={"via": "panel"})
        ctx["error"] = await _error(request, "auth.bad_credentials")
        return await render(request, "login.html", ctx, status=401)
    await give_back_login(request, checks)
    await sign_in(request, user)
    await record_request(request, audit.LOGIN, user, details={"via": "panel"})
    raise web.HTTPFound(safe_next(next_url))


async def signup_page(request: web.Request) -> web.Response:
    if await current_user(request) is not None:
        raise web.HTTPFound("/admin/chats")
    first = await accounts.count_users(_pool(request)) == 0
    return await render(request, "signup.html", {"first_run": first, "form": {}})


async def signup(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: str(form.get(k, "")) for k in ("email", "password", "name", "organization")}
    ctx = {"form": {k: v for k, v in values.items() if k != "password"}}
    error = await _check_signup(request, values)
    if error is None:
        if wait := take_attempt(request, signup_check(request)):  # shared with the API
            return await _too_many(request, "signup.html", ctx, wait)
        else:
            try:
                clean = clean_fields(REGISTER, values)
                user = await accounts.create_org_with_owner(
                    _pool(request), org_name=clean["organization"], email=clean["email"].lower(),
                    name=clean["name"], password_hash=await hash_password(
                        clean["password"], request.app[keys.CONFIG].bcrypt_rounds))
            except Conflict:
                error = await _error(request, "auth.email_taken", "email")
            else:
                lang = await language(request)
                if lang != user.language:
                    await accounts.set_language(_pool(request), user.id, lang)
                    user = await accounts.user_by_id(_pool(request), user.id)
                await sign_in(request, user)
                await record_request(request, audit.REGISTERED, user, details={"via": "panel"})
                raise web.HTTPFound("/admin/sites")
    ctx["error"] = error
    return await render(request, "signup.html", ctx, status=422)


async def _check_signup(request: web.Request, values: dict) -> dict | None:
    for name in ("organization", "name", "email"):
        if not values[name].strip():
            return await _error(request, "form.required_named", name,
                                field_name=i18n.translate(await language(request),
                                                          "field." + _LABELS[name]))
    try:
        clean_fields(REGISTER, values)
    except ProtocolError as exc:
        return await _error(request, _field_error_key(exc), exc.field)
    if not EMAIL.match(values["email"].strip()):
        return await _error(request, "auth.bad_email", "email")
    if len(values["password"]) < MIN_PASSWORD:
        return await _error(request, "auth.short_password", "password", n=MIN_PASSWORD)
    return None


async def logout(request: web.Request) -> web.Response:
    user = await current_user(request)
    await sign_out(request)
    if user is not None:
        await record_request(request, audit.LOGOUT, user, details={"via": "panel"})
    raise web.HTTPFound("/admin/login")


async def set_language(request: web.Request) -> web.Response:
    form = await request.post()
    lang = str(form.get("lang", ""))
    if lang in LANGUAGES:
        session = await get_session(request)
        session["lang"] = lang
        user = await current_user(request)
        if user is not None:
            await accounts.set_language(_pool(request), user.id, lang)
    raise web.HTTPFound(safe_next(str(form.get("next", "")), "/admin"))


async def invite_page(request: web.Request) -> web.Response:
    invitation = await invitations.open_invitation(_pool(request), request.match_info["token"])
    return await render(request, "invite.html", {"invitation": invitation, "form": {}},
                        status=200 if invitation else 404)


async def accept_invite(request: web.Request) -> web.Response:
    pool = _pool(request)
    invitation = await invitations.open_invitation(pool, request.match_info["token"])
    if invitation is None:
        return await render(request, "invite.html", {"invitation": None, "form": {}}, status=404)
    form = await request.post()
    values = {"name": str(form.get("name", "")), "password": str(form.get("password", ""))}
    ctx = {"invitation": invitation, "form": {"name": values["name"]}}
    try:
        clean = clean_fields(INVITE_ACCEPT, values)
    except ProtocolError as exc:
        ctx["error"] = await _error(request, _field_error_key(exc), exc.field)
        return await render(request, "invite.html", ctx, status=422)
    if len(clean["password"]) < MIN_PASSWORD:
        ctx["error"] = await _error(request, "auth.short_password", "password", n=MIN_PASSWORD)
        return await render(request, "invite.html", ctx, status=422)
    hashed = await hash_password(clean["password"], request.app[keys.CONFIG].bcrypt_rounds)
    if not await invitations.accept_invitation(pool, invitation.id, name=clean["name"],
                                               password_hash=hashed):
        return await render(request, "invite.html", {"invitation": None, "form": {}}, status=404)
    user = await accounts.user_by_id(pool, invitation.user_id)
    await sign_in(request, user)
    await record_request(request, audit.INVITATION_ACCEPTED, user)
    raise web.HTTPFound("/admin/chats")
