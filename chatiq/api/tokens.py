"""Who is asking: operator JWTs for the API and sockets, one helper for every check."""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.core.security import InvalidToken, make_jwt, read_jwt
from chatiq.store import accounts
from chatiq.store.accounts import User

def issue_token(app: web.Application, user: User) -> str:
    config = app[keys.CONFIG]
    return make_jwt(config.secret_key, user_id=user.id, org_id=user.org_id,
                    version=user.token_version, ttl=config.jwt_ttl_seconds)


async def user_from_token(app: web.Application, token: str) -> User | None:
    """The user a JWT names, if it verifies, is unexpired and was not revoked."""
    try:
        claims = read_jwt(app[keys.CONFIG].secret_key, token)
    except InvalidToken:
        return None
    user = await accounts.user_by_id(app[keys.POOL], int(claims["sub"]))
    if user is None or claims.get("tv") != user.token_version or str(user.org_id) != claims.get("org"):
        return None
    return user
