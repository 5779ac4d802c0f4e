"""Sign in with an OpenID Connect provider (Google, or any other the server is set up for).

/admin/oidc/start sends the browser to the provider; /admin/oidc/callback checks what
comes back and signs the operator in with the same helper as the password form.
"""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from chatiq import keys
from chatiq.core.ratelimit import RateLimit
from chatiq.oidc import authorize
from chatiq.oidc.errors import OidcError
from chatiq.oidc.idtoken import Identity
from chatiq.oidc.provider import Provider
from chatiq.panel.access import safe_next
from chatiq.panel.render import render
from chatiq.panel.session import sign_in
from chatiq.panel.sites import own_origin
from chatiq.api.audit import record_request
from chatiq.core.ratelimit import KeyedLimiter
from chatiq.core.security import hash_password, new_token, same
from chatiq.store import accounts, audit, identities
from chatiq.store.accounts import User
from chatiq.store.db import Conflict

log = logging.getLogger(__name__)

# Where, in the session, the state of this browser's sign-in in progress is kept: the
# callback must come back to the browser that started it (no login CSRF).
_SESSION_STATE = "oidc_state"
# A sign-in not finished within this many seconds is forgotten.
LOGIN_TTL_SECONDS = 600
# Starts per address: each one writes a row, so a script cannot write them at will;
# generous enough for an office behind one NAT address.
START_LIMIT = RateLimit(burst=30, per_second=0.5)
_STATE_MAX = 200
# Failure reason → (HTTP status, i18n key of what the refusal page says).
_REFUSALS = {
    "rate_limited": (429, "oidc.rate_limited"),
    "state_missing": (400, "oidc.expired"),
    "state_unknown": (400, "oidc.expired"),
    "state_mismatch": (400, "oidc.expired"),
    "provider_denied": (403, "oidc.denied"),
    "code_missing": (400, "oidc.invalid"),
    "provider_unreachable": (502, "oidc.unavailable"),
    "provider_timeout": (504, "oidc.unavailable"),
    "provider_bad_response": (502, "oidc.unavailable"),
    "token_endpoint_error": (502, "oidc.invalid"),
    "email_missing": (403, "oidc.email_unverified"),
    "email_unverified": (403, "oidc.email_unverified"),
    "no_account": (403, "oidc.no_account"),
    "no_invitation": (403, "oidc.no_invitation"),
    "already_linked": (409, "oidc.already_linked"),
}
# Every other reason is an ID token that failed a check (token_*).
_BAD_TOKEN = (401, "oidc.invalid")


def setup_oidc(app: web.Application) -> None:
    """Sign-in through the configured provider, if there is one (after the templates)."""
    config = app[keys.CONFIG]
    if not config.oidc_issuer:
        return
    provider = app[keys.OIDC] = Provider(
        issuer=config.oidc_issuer, client_id=config.oidc_client_id,
        client_secret=config.oidc_client_secret, name=config.oidc_name,
        timeout=config.oidc_timeout_seconds)
    app[keys.OIDC_START_LIMITER] = KeyedLimiter(START_LIMIT)
    aiohttp_jinja2.get_env(app).globals["oidc_name"] = config.oidc_name

    async def close(_app: web.Application) -> None:
        await provider.close()

    app.on_cleanup.append(close)


def _provider(request: web.Request) -> Provider:
    provider = request.app.get(keys.OIDC)
    if provider is None:
        raise web.HTTPNotFound()
    return provider


async def start(request: web.Request) -> web.Response:
    """A link, not a form: the panel's CSP (form-action 'self') would stop a form
    redirected to the provider. Nothing here needs CSRF: the state ties the end to
    this browser, and starting for someone only shows them the provider's page."""
    provider = _provider(request)
    if request.app[keys.CONFIG].rate_limits_enabled and \
            not request.app[keys.OIDC_START_LIMITER].allow(request.remote or "?"):
        return await _refuse(request, provider, OidcError("rate_limited", "too many starts"))
    try:
        meta = await provider.metadata()
    except OidcError as exc:
        return await _refuse(request, provider, exc)
    state, nonce, verifier = new_token(32), new_token(32), authorize.new_verifier()
    redirect_uri = own_origin(request) + str(request.app.router["panel_oidc_callback"].url_for())
    await identities.save_login(
        request.app[keys.POOL], state=state, nonce=nonce, code_verifier=verifier,
        redirect_uri=redirect_uri, next_path=safe_next(request.query.get("next")),
        ttl_seconds=LOGIN_TTL_SECONDS)
    session = await get_session(request)
    session[_SESSION_STATE] = state
    raise web.HTTPFound(authorize.authorization_url(
        meta.authorization_endpoint, client_id=provider.client_id, redirect_uri=redirect_uri,
        state=state, nonce=nonce, verifier=verifier))


async def callback(request: web.Request) -> web.Response:
    provider = _provider(request)
    session = await get_session(request)
    expected = session.pop(_SESSION_STATE, None)
    identity = None
    try:
        identity, next_path = await _finish(request, provider, expected)
        user, how = await _user_for(request, identity)
    except OidcError as exc:
        return await _refuse(request, provider, exc,
                             email=identity.email if identity else None)
    await sign_in(request, user)
    log.info("oidc sign-in: user %s through %s (%s)", user.id, provider.issuer, how)
    await record_request(request, audit.INVITATION_ACCEPTED if how == "joined" else audit.LOGIN,
                         user, details={"via": "oidc", "issuer": provider.issuer, "how": how})
    raise web.HTTPFound(next_path)


async def _finish(request: web.Request, provider: Provider,
                  expected: str | None) -> tuple[Identity, str]:
    """The identity the provider vouches for, once state, code and ID token all check out."""
    query = request.query
    state = query.get("state", "")
    if not state:
        raise OidcError("state_missing", "the provider's redirect carried no state")
    # Spent before anything else is checked, so whatever happens next it cannot be replayed.
    pending = None if len(state) > _STATE_MAX else \
        await identities.take_login(request.app[keys.POOL], state)
    if pending is None:
        raise OidcError("state_unknown", "unknown, expired or already used state")
    if not isinstance(expected, str) or not same(expected, state):
        raise OidcError("state_mismatch", "the sign-in was started in another browser")
    if "error" in query:
        raise OidcError("provider_denied", " ".join(
            f"{query.get('error', '')}: {query.get('error_description', '')}".split())[:300])
    code = query.get("code", "")
    if not code:
        raise OidcError("code_missing", "the provider's redirect carried no code")
    token = await provider.exchange_code(code, pending.redirect_uri, pending.code_verifier)
    identity = await provider.verify(token, nonce=pending.nonce)
    return identity, safe_next(pending.next_path)


async def _user_for(request: web.Request, identity: Identity) -> tuple[User, str]:
    """The user behind a verified identity and how: "known" (linked before), "linked"
    now by email, or "joined" now through the user's invitation.

    Nobody new comes in this way: an email without a user is refused, and a user still
    waiting to join (no password yet) comes in only while their invitation is valid."""
    pool = request.app[keys.POOL]
    user = await identities.user_by_identity(pool, issuer=identity.issuer,
                                             subject=identity.subject)
    if user is not None:
        return user, "known"
    user = await accounts.user_by_email(pool, identity.email)
    if user is None:
        raise OidcError("no_account", f"no user has the email {identity.email}")
    try:
        if user.password_hash is None:
            # A password nobody knows: a user without one counts as not yet joined.
            unusable = await hash_password(new_token(32), request.app[keys.CONFIG].bcrypt_rounds)
            if not await identities.accept_invitation_with_identity(
                    pool, user_id=user.id, issuer=identity.issuer, subject=identity.subject,
                    email=identity.email, password_hash=unusable):
                raise OidcError("no_invitation",
                                f"user {user.id} ({identity.email}) has no valid invitation")
            user, how = await accounts.user_by_id(pool, user.id), "joined"
        else:
            await identities.link_identity(pool, user_id=user.id, issuer=identity.issuer,
                                           subject=identity.subject, email=identity.email)
            how = "linked"
    except Conflict:
        raise OidcError("already_linked", f"user {user.id} ({identity.email}) is linked to"
                                          f" another account at {identity.issuer}") from None
    log.info("oidc: linked %s at %s to user %s", identity.subject, identity.issuer, user.id)
    return user, how


async def _refuse(request: web.Request, provider: Provider, exc: OidcError, *,
                  email: str | None = None) -> web.Response:
    """The refusal page; the log and the audit log say why (`email`: the verified one,
    when the provider's answer got that far)."""
    status, message = _REFUSALS.get(exc.reason, _BAD_TOKEN)
    log.warning("oidc sign-in refused (%s) from %s: %s", exc.reason, request.remote,
                exc.detail or "-")
    # Like the password form's 429, refused floods are not written down one by one.
    if exc.reason != "rate_limited":
        user = await accounts.user_by_email(request.app[keys.POOL], email) if email else None
        await record_request(request, audit.LOGIN_FAILED, org_id=user.org_id if user else None,
                             actor_id=user.id if user else None, actor_email=email,
                             details={"via": "oidc", "issuer": provider.issuer,
                                      "reason": exc.reason})
    return await render(request, "oidc_refused.html", {
        "provider_name": provider.name, "message_key": message, "reason": exc.reason},
        status=status)


ROUTES = [
    ("GET", "/admin/oidc/start", start, "panel_oidc_start"),
    ("GET", "/admin/oidc/callback", callback, "panel_oidc_callback"),
]
