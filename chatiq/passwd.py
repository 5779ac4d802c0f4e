"""`chatiq passwd EMAIL` and `chatiq users`: recovering an account without SMTP, on the same
database the server uses, whether or not the server is running."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from chatiq.config import Config
from chatiq.core.security import hash_password
from chatiq.store import accounts, db
from chatiq.store.db import create_pool
from chatiq.store.login_limits import forget_account

MIN_LENGTH = 8
# The login form's limit: a longer password could never be typed in.
MAX_LENGTH = 200


class Refused(Exception):
    """What the user did wrong, in one line; nothing was changed."""


def read_password(stdin: TextIO = sys.stdin) -> str:
    """One line from a pipe, or typed twice (unechoed) at a terminal."""
    if not stdin.isatty():
        line = stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise Refused("the two passwords differ")
    return first


def check_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise Refused(f"the password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise Refused(f"the password must be at most {MAX_LENGTH} characters")
    return password


async def set_password(config: Config, email: str, password: str) -> accounts.User:
    """Set the password, end every earlier token and session of the user (token_version),
    and lift the account's failed-login lockouts."""
    pool = await create_pool(config.database_url, maxsize=1)
    try:
        user = await accounts.user_by_email(pool, email.strip())
        if user is None:
            raise Refused(f"no user with the email {email.strip()!r}")
        hashed = await hash_password(password, config.bcrypt_rounds)
        async with db.transaction(pool) as cur:
            await accounts.store_password(cur, user.id, hashed)
        await forget_account(pool, user.email.lower())
        return user
    finally:
        pool.close()
        await pool.wait_closed()


async def list_users(config: Config) -> list[accounts.Listed]:
    pool = await create_pool(config.database_url, maxsize=1)
    try:
        return await accounts.all_users(pool)
    finally:
        pool.close()
        await pool.wait_closed()


def table(users: list[accounts.Listed]) -> str:
    """Aligned columns with a header, for a terminal."""
    rows = [("EMAIL", "NAME", "ROLE", "ORGANIZATION")] + [
        (u.email, u.name, u.role, u.organization) for u in users]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3]
                     for row in rows)
