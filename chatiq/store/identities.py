"""Operators' accounts at OpenID Connect providers, and the sign-ins on their way there.

A sign-in's state is kept only as its sha256 and deleted as it is used, so it works once.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2

from chatiq.core.security import token_hash
from chatiq.store import db
from chatiq.store.accounts import User, store_password, user_by_id


@dataclass(frozen=True)
class PendingLogin:
    """What the start of a sign-in left for its end: checked against the provider's answer."""

    nonce: str
    code_verifier: str
    redirect_uri: str
    next_path: str


async def save_login(pool, *, state: str, nonce: str, code_verifier: str, redirect_uri: str,
                     next_path: str, ttl_seconds: int = 600) -> None:
    """Remember a sign-in for ttl_seconds; abandoned ones older than that are swept here."""
    async with db.transaction(pool) as cur:
        await cur.execute("DELETE FROM oidc_logins WHERE expires_at <= now()")
        await cur.execute(
            "INSERT INTO oidc_logins (state_hash, nonce, code_verifier, redirect_uri, next_path,"
            " expires_at) VALUES (%(h)s, %(n)s, %(v)s, %(r)s, %(p)s,"
            " now() + make_interval(secs => %(ttl)s))",
            {"h": token_hash(state), "n": nonce, "v": code_verifier, "r": redirect_uri,
             "p": next_path, "ttl": ttl_seconds})


async def take_login(pool, state: str) -> PendingLogin | None:
    """The unexpired sign-in behind `state`, spent by this call: a second call gets None."""
    row = await db.fetchone(
        pool,
        "DELETE FROM oidc_logins WHERE state_hash = %(h)s"
        " RETURNING nonce, code_verifier, redirect_uri, next_path, expires_at > now() AS live",
        {"h": token_hash(state)})
    if row is None or not row.pop("live"):
        return None
    return PendingLogin(**row)


async def user_by_identity(pool, *, issuer: str, subject: str) -> User | None:
    """The user this provider account is linked to; the login time is noted on the way."""
    row = await db.fetchone(
        pool,
        "UPDATE user_identities SET last_login_at = now()"
        " WHERE issuer = %(i)s AND subject = %(s)s RETURNING user_id",
        {"i": issuer, "s": subject})
    return None if row is None else await user_by_id(pool, row["user_id"])


async def link_identity(pool, *, user_id: int, issuer: str, subject: str, email: str) -> None:
    """Link a provider account to an active user; Conflict if either side is linked already."""
    try:
        await db.fetchone(
            pool,
            "INSERT INTO user_identities (user_id, issuer, subject, email)"
            " VALUES (%(u)s, %(i)s, %(s)s, %(e)s) RETURNING id",
            {"u": user_id, "i": issuer, "s": subject, "e": email})
    except psycopg2.errors.UniqueViolation:
        raise db.Conflict("this user or this provider account is linked already") from None


async def accept_invitation_with_identity(pool, *, user_id: int, issuer: str, subject: str,
                                          email: str, password_hash: str) -> bool:
    """An invited user's first sign-in: spend their open invitation, give them a password
    nobody knows (a user without one counts as not yet joined) and link the account.
    False, with nothing changed, when no unused and unexpired invitation is left."""
    try:
        async with db.transaction(pool) as cur:
            await cur.execute(
                "UPDATE invitations SET used_at = now() WHERE user_id = %(u)s"
                " AND used_at IS NULL AND expires_at > now() RETURNING id", {"u": user_id})
            if not await cur.fetchall():
                return False
            if not await store_password(cur, user_id, password_hash, only_if_unset=True):
                raise db.Conflict("the invitation was accepted meanwhile")
            await cur.execute(
                "INSERT INTO user_identities (user_id, issuer, subject, email)"
                " VALUES (%(u)s, %(i)s, %(s)s, %(e)s)",
                {"u": user_id, "i": issuer, "s": subject, "e": email})
            return True
    except psycopg2.errors.UniqueViolation:
        raise db.Conflict("this provider account is linked to another user") from None
