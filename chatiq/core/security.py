"""Passwords, JWTs and opaque tokens: the only place that handles secrets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time

import bcrypt
import jwt

JWT_ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


def new_token(nbytes: int = 24) -> str:
    """An unguessable URL-safe token (24 bytes = 192 bits)."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> bytes:
    """What the database keeps instead of a visitor token."""
    return hashlib.sha256(token.encode()).digest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _bcrypt_input(password: str) -> bytes:
    """bcrypt reads at most 72 bytes (and bcrypt ≥ 5 refuses more): a longer passphrase
    is first condensed with SHA-256, so all of it counts and none of it crashes."""
    raw = password.encode("utf-8", "surrogatepass")
    if len(raw) <= 72:
        return raw
    return base64.b64encode(hashlib.sha256(raw).digest())


async def hash_password(password: str, rounds: int = 12) -> str:
    # bcrypt takes ~0.25 s at 12 rounds: keep it off the event loop.
    loop = asyncio.get_running_loop()
    hashed = await loop.run_in_executor(
        None, lambda: bcrypt.hashpw(_bcrypt_input(password), bcrypt.gensalt(rounds)))
    return hashed.decode()


# A real hash to check against when the account does not exist, so a wrong email
# costs the same time as a wrong password and does not reveal which one it was.
_DUMMY_HASH = bcrypt.hashpw(b"chatiq-no-such-user", bcrypt.gensalt(4)).decode()


async def check_password(password: str, hashed: str | None) -> bool:
    loop = asyncio.get_running_loop()
    target = (hashed or _DUMMY_HASH).encode()
    ok = await loop.run_in_executor(None, lambda: bcrypt.checkpw(_bcrypt_input(password), target))
    return ok and hashed is not None


def make_jwt(secret: str, *, user_id: int, org_id: int, version: int, ttl: int,
             now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"sub": str(user_id), "org": str(org_id), "tv": version,
              "iat": issued, "exp": issued + ttl, "typ": "operator"}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def read_jwt(secret: str, token: str) -> dict:
    """The claims of a valid, unexpired operator token, or InvalidToken."""
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM],
                            options={"require": ["exp", "iat", "sub"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if claims.get("typ") != "operator" or not str(claims.get("sub", "")).isdigit():
        raise InvalidToken("not an operator token")
    return claims
