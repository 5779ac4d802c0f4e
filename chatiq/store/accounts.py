"""Organizations and users."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2

from chatiq.store import db


@dataclass(frozen=True)
class User:
    id: int
    org_id: int
    email: str
    name: str
    role: str
    language: str
    avatar_url: str | None
    token_version: int
    password_hash: str | None = None

    @property
    def is_owner(self) -> bool:
        return self.role == "OWNER"


_USER_COLUMNS = ("id, org_id, email, name, role, language, avatar_url, token_version,"
                 " password_hash")


def _user(row: dict | None) -> User | None:
    return None if row is None else User(**row)


async def create_org_with_owner(pool, *, org_name: str, email: str, name: str,
                                password_hash: str) -> User:
    try:
        async with db.transaction(pool) as cur:
            await cur.execute("INSERT INTO organizations (name) VALUES (%(n)s) RETURNING id",
                              {"n": org_name})
            org_id = (await cur.fetchone())["id"]
            await cur.execute(
                f"INSERT INTO users (org_id, email, name, role, password_hash)"
                f" VALUES (%(org)s, %(email)s, %(name)s, 'OWNER', %(hash)s)"
                f" RETURNING {_USER_COLUMNS}",
                {"org": org_id, "email": email, "name": name, "hash": password_hash})
            return _user(await cur.fetchone())
    except psycopg2.errors.UniqueViolation:
        raise db.Conflict("an account with this email already exists") from None


async def create_operator(pool, *, org_id: int, email: str, name: str,
                          password_hash: str | None, role: str = "OPERATOR") -> User:
    try:
        row = await db.fetchone(
            pool,
            f"INSERT INTO users (org_id, email, name, role, password_hash)"
            f" VALUES (%(org)s, %(email)s, %(name)s, %(role)s, %(hash)s)"
            f" RETURNING {_USER_COLUMNS}",
            {"org": org_id, "email": email, "name": name, "role": role, "hash": password_hash})
    except psycopg2.errors.UniqueViolation:
        raise db.Conflict("an account with this email already exists") from None
    return _user(row)


async def user_by_email(pool, email: str) -> User | None:
    return _user(await db.fetchone(
        pool, f"SELECT {_USER_COLUMNS} FROM users WHERE lower(email) = lower(%(e)s)",
        {"e": email}))


async def user_by_id(pool, user_id: int) -> User | None:
    return _user(await db.fetchone(
        pool, f"SELECT {_USER_COLUMNS} FROM users WHERE id = %(id)s", {"id": user_id}))


async def org_users(pool, org_id: int) -> list[User]:
    rows = await db.fetchall(
        pool, f"SELECT {_USER_COLUMNS} FROM users WHERE org_id = %(org)s ORDER BY id",
        {"org": org_id})
    return [User(**r) for r in rows]


async def count_users(pool) -> int:
    row = await db.fetchone(pool, "SELECT count(*) AS n FROM users")
    return row["n"]


async def bump_token_version(pool, user_id: int) -> None:
    await db.fetchone(
        pool, "UPDATE users SET token_version = token_version + 1 WHERE id = %(id)s RETURNING id",
        {"id": user_id})


async def set_language(pool, user_id: int, language: str) -> None:
    await db.fetchone(pool, "UPDATE users SET language = %(l)s WHERE id = %(id)s RETURNING id",
                      {"l": language, "id": user_id})


async def store_password(cur, user_id: int, password_hash: str, *,
                         only_if_unset: bool = False) -> bool:
    """Set a user's password inside the caller's transaction; every earlier token and
    session of theirs ends (token_version). only_if_unset: not over a password someone set
    meanwhile. False when no row changed."""
    await cur.execute(
        "UPDATE users SET password_hash = %(h)s, token_version = token_version + 1"
        " WHERE id = %(u)s AND (NOT %(unset)s OR password_hash IS NULL) RETURNING id",
        {"h": password_hash, "u": user_id, "unset": only_if_unset})
    return await cur.fetchone() is not None


@dataclass(frozen=True)
class Listed:
    """A user as `chatiq users` lists them."""

    email: str
    name: str
    role: str
    organization: str


async def all_users(pool) -> list[Listed]:
    """Every user of every organization on this server, by organization then email."""
    rows = await db.fetchall(
        pool, "SELECT u.email, u.name, u.role, o.name AS organization FROM users u"
              " JOIN organizations o ON o.id = u.org_id ORDER BY o.name, o.id, u.email")
    return [Listed(**r) for r in rows]


async def set_role(pool, org_id: int, user_id: int, role: str) -> User:
    """Change a colleague's role; the organization always keeps at least one OWNER."""
    async with db.transaction(pool) as cur:
        # Lock the organization's users so two demotions cannot race past the check.
        await cur.execute("SELECT id, role FROM users WHERE org_id = %(org)s FOR UPDATE",
                          {"org": org_id})
        members = {r["id"]: r["role"] for r in await cur.fetchall()}
        if user_id not in members:
            raise db.NotFound("user not found")
        owners = [uid for uid, r in members.items() if r == "OWNER"]
        if role != "OWNER" and owners == [user_id]:
            raise db.Conflict("the organization needs at least one owner")
        await cur.execute(f"UPDATE users SET role = %(r)s WHERE id = %(id)s"
                          f" RETURNING {_USER_COLUMNS}", {"r": role, "id": user_id})
        return _user(await cur.fetchone())
