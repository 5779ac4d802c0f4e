"""One-time set-password links for invited operators, found by the hash of their token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chatiq.core.security import token_hash
from chatiq.store import db
from chatiq.store.accounts import User, create_operator, store_password


@dataclass(frozen=True)
class Invitation:
    id: int
    user_id: int
    email: str
    name: str
    org_id: int
    expires_at: datetime


async def invite_operator(pool, *, org_id: int, email: str, name: str, token: str,
                          invited_by: int, ttl_days: int = 7) -> User:
    """Create the OPERATOR (no password yet) and their one-time invitation."""
    user = await create_operator(pool, org_id=org_id, email=email, name=name,
                                 password_hash=None)
    await db.fetchone(
        pool,
        "INSERT INTO invitations (user_id, created_by, token_hash, expires_at)"
        " VALUES (%(u)s, %(by)s, %(h)s, now() + make_interval(days => %(days)s)) RETURNING id",
        {"u": user.id, "by": invited_by, "h": token_hash(token), "days": ttl_days})
    return user


async def renew_invitation(pool, *, user_id: int, token: str, invited_by: int,
                           ttl_days: int = 7) -> None:
    """A fresh link for a user who has not set a password; older links stop working."""
    async with db.transaction(pool) as cur:
        await cur.execute("UPDATE invitations SET used_at = now() WHERE user_id = %(u)s"
                          " AND used_at IS NULL", {"u": user_id})
        await cur.execute(
            "INSERT INTO invitations (user_id, created_by, token_hash, expires_at)"
            " VALUES (%(u)s, %(by)s, %(h)s, now() + make_interval(days => %(days)s))",
            {"u": user_id, "by": invited_by, "h": token_hash(token), "days": ttl_days})


async def open_invitation(pool, token: str) -> Invitation | None:
    """The unused, unexpired invitation behind a link's token, if any."""
    row = await db.fetchone(
        pool,
        "SELECT i.id, i.user_id, u.email, u.name, u.org_id, i.expires_at FROM invitations i"
        " JOIN users u ON u.id = i.user_id WHERE i.token_hash = %(h)s AND i.used_at IS NULL"
        " AND i.expires_at > now()", {"h": token_hash(token)})
    return None if row is None else Invitation(**row)


async def accept_invitation(pool, invitation_id: int, *, name: str, password_hash: str) -> bool:
    """Set the name and password and spend the link, once: False if it was used meanwhile."""
    async with db.transaction(pool) as cur:
        await cur.execute(
            "UPDATE invitations SET used_at = now() WHERE id = %(i)s AND used_at IS NULL"
            " AND expires_at > now() RETURNING user_id", {"i": invitation_id})
        row = await cur.fetchone()
        if row is None:
            return False
        await cur.execute("UPDATE users SET name = %(n)s WHERE id = %(u)s",
                          {"n": name, "u": row["user_id"]})
        await store_password(cur, row["user_id"], password_hash)
        return True
