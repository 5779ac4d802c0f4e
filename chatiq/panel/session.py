"""The panel's session: an encrypted cookie naming the user, their CSRF token and language.

The cookie holds the user's token_version, so logging out (which bumps it) ends every
session and API token of that user at once, including copies of the cookie.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chatiq import keys
from chatiq.core.origins import normalize_origin
from chatiq.store import accounts
from chatiq.store.accounts import User

COOKIE_NAME = "chatiq_session"
MAX_AGE = 7 * 24 * 3600
LANGUAGES = ("en", "uk")
# The signed-in user, resolved once per request.
_USER = web.RequestKey("chatiq_panel_user", User | None)


def session_key(secret: str) -> bytes:
    """32 bytes for the cookie cipher, derived so the JWT secret is never reused as is."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"chatiq panel session cookie").derive(secret.encode())


class PanelCookieStorage(EncryptedCookieStorage):
    """Marks the cookie Secure whenever the request came over HTTPS.

    A fixed `secure=True` would break plain-http installs on a LAN; behind a TLS-ending
    proxy listed in CHATIQ_TRUSTED_PROXIES, its X-Forwarded-Proto makes `request.secure` true.
    """

    async def save_session(self, request: web.Request, response: web.StreamResponse,
                           session: Session) -> None:
        await super().save_session(request, response, session)
        morsel = response.cookies.get(self.cookie_name)
        if morsel is not None and request.secure:
            morsel["secure"] = True


def make_storage(secret: str) -> PanelCookieStorage:
    return PanelCookieStorage(session_key(secret), cookie_name=COOKIE_NAME, max_age=MAX_AGE,
                              httponly=True, samesite="Lax", path="/")


async def csrf_token(request: web.Request) -> str:
    """This session's CSRF token, created on first use."""
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


async def csrf_ok(request: web.Request, presented: str | None) -> bool:
    session = await get_session(request)
    expected = session.get("csrf")
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


async def current_user(request: web.Request) -> User | None:
    """The signed-in user, if the cookie names one whose token version still matches."""
    if _USER in request:
        return request[_USER]
    session = await get_session(request)
    user = None
    uid, version = session.get("uid"), session.get("tv")
    if isinstance(uid, int):
        user = await accounts.user_by_id(request.app[keys.POOL], uid)
        if user is None or user.token_version != version or user.password_hash is None:
            user = None
    request[_USER] = user
    return user


async def sign_in(request: web.Request, user: User) -> None:
    """A brand-new session (new CSRF token) for the user: nothing from before carries over
    except the chosen language."""
    old = await get_session(request)
    old.invalidate()
    session = await new_session(request)
    session["uid"] = user.id
    session["tv"] = user.token_version
    session["lang"] = user.language
    session["csrf"] = secrets.token_urlsafe(32)
    request[_USER] = user


async def sign_out(request: web.Request) -> None:
    user = await current_user(request)
    if user is not None:
        await accounts.bump_token_version(request.app[keys.POOL], user.id)
    session = await get_session(request)
    lang = session.get("lang")
    session.invalidate()
    if lang:
        fresh = await new_session(request)
        fresh["lang"] = lang
    request[_USER] = None


async def language(request: web.Request) -> str:
    user = await current_user(request)
    if user is not None:
        return user.language
    session = await get_session(request)
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    accept = request.headers.get("Accept-Language", "").lower()
    return "uk" if accept.startswith("uk") else "en"


def same_origin(request: web.Request) -> bool:
    """No Origin header (not a browser) or the server's own host.

    Compared by host, as chatiq.core.origins does for the server's own pages: a TLS-ending
    proxy makes the scheme differ while the host stays the browser's.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    normalized = normalize_origin(origin)
    if normalized is None:
        return False
    return urlsplit(normalized).netloc == request.host.lower()


async def socket_user(request: web.Request) -> User | None:
    """SESSION_AUTH for /ws/operator: the cookie counts only from our own pages, so a
    foreign site cannot open the socket with a visitor's cookie (cross-site WebSocket
    hijacking). Refused here, the client may still authenticate with a JWT frame."""
    if not same_origin(request):
        return None
    return await current_user(request)
