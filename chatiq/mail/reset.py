""""Forgot password?" pages: ask for a single-use link by email, then set a new password.

Asking never reveals whether an address has an account (the answer and its status are the
same), only the token's sha256 is stored, a new password ends every session and API token
of the user (token_version), and asking is rate limited per address and per email.
"""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.api.auth import EMAIL
from chatiq.mail import reset_link
from chatiq.panel import i18n
from chatiq.panel.account import MIN_PASSWORD
from chatiq.panel.render import render
from chatiq.panel.session import language
from chatiq.api.audit import record_request
from chatiq.core.ratelimit import whole_seconds
from chatiq.core.security import hash_password
from chatiq.store import accounts
from chatiq.store import mail as store

MAX_PASSWORD = 200
# Audit actions (chatiq/store/audit.py keeps the core ones; these are email's).
RESET_REQUESTED = "auth.password_reset_requested"
RESET_DONE = "auth.password_reset"


async def forgot_page(request: web.Request) -> web.Response:
    return await render(request, "reset_request.html", {
        "email": "", "no_mail": not await store.mail_configured(request.app[keys.POOL])})


async def _limited(request: web.Request, email: str) -> int | None:
    """Seconds to wait, when this address or this email asked too often."""
    if not request.app[keys.CONFIG].rate_limits_enabled:
        return None
    waits = []
    for limiter, key in ((request.app[keys.RESET_IP_LIMITER], request.remote or "?"),
                         (request.app[keys.RESET_EMAIL_LIMITER], email)):
        if not limiter.allow(key):
            waits.append(limiter.retry_after(key))
    return whole_seconds(max(waits)) if waits else None


async def forgot(request: web.Request) -> web.Response:
    form = await request.post()
    email = str(form.get("email", "")).strip().lower()
    lang = await language(request)
    ctx = {"email": email}
    if len(email) > 254 or not EMAIL.match(email):
        ctx["error"] = {"text": i18n.translate(lang, "auth.bad_email"), "field": "email"}
        return await render(request, "reset_request.html", ctx, status=422)
    if wait := await _limited(request, email):
        ctx["error"] = {"text": i18n.translate(lang, "reset.rate_limited", seconds=wait)}
        response = await render(request, "reset_request.html", ctx, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    pool = request.app[keys.POOL]
    if not await store.mail_configured(pool):  # no link can go anywhere: never promise one
        return await render(request, "reset_request.html", {"email": "", "no_mail": True})
    user = await accounts.user_by_email(pool, email)
    settings = await store.settings_for(pool, user.org_id) if user else None
    emailed = user is not None and user.password_hash is not None and settings is not None
    if emailed:
        await reset_link.send_link(request.app, user, settings)
    if user is not None:
        await record_request(request, RESET_REQUESTED, org_id=user.org_id, actor_id=user.id,
                             actor_email=user.email, details={"emailed": emailed})
    return await render(request, "reset_request.html", {"email": "", "sent": True})


async def reset_page(request: web.Request) -> web.Response:
    reset = await store.open_reset(request.app[keys.POOL], request.match_info["token"])
    return await render(request, "reset_password.html", {"reset": reset},
                        status=200 if reset else 404)


async def reset(request: web.Request) -> web.Response:
    pool = request.app[keys.POOL]
    found = await store.open_reset(pool, request.match_info["token"])
    if found is None:
        return await render(request, "reset_password.html", {"reset": None}, status=404)
    password = str((await request.post()).get("password", ""))
    lang = await language(request)
    error = None
    if len(password) < MIN_PASSWORD:
        error = i18n.translate(lang, "auth.short_password", n=MIN_PASSWORD)
    elif len(password) > MAX_PASSWORD or "\x00" in password:
        error = i18n.translate(lang, "form.too_long")
    if error is not None:
        return await render(request, "reset_password.html",
                            {"reset": found, "error": {"text": error, "field": "password"}},
                            status=422)
    hashed = await hash_password(password, request.app[keys.CONFIG].bcrypt_rounds)
    user_id = await store.use_reset(pool, found.id, hashed)
    if user_id is None:  # spent by a concurrent request
        return await render(request, "reset_password.html", {"reset": None}, status=404)
    user = await accounts.user_by_id(pool, user_id)
    await record_request(request, RESET_DONE, user, details={"via": "email link"})
    return await render(request, "reset_password.html", {"reset": None, "done": True})


ROUTES = [
    ("GET", "/admin/password/forgot", forgot_page, "panel_password_forgot"),
    ("POST", "/admin/password/forgot", forgot, "panel_password_forgot_post"),
    ("GET", "/admin/password/reset/{token}", reset_page, "panel_password_reset"),
    ("POST", "/admin/password/reset/{token}", reset, "panel_password_reset_post"),
]
