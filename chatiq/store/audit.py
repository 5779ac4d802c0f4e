"""The audit log: `record(...)` a security-relevant action, read an organization's entries.

`record` takes a pool, a connection or a cursor, so it can join the caller's transaction.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from chatiq.store import db
from chatiq.store.accounts import User

log = logging.getLogger(__name__)

# The actions ChatIQ records. Others may be recorded too (any name matching ACTION_NAME);
# these are the ones the code here writes.
LOGIN = "auth.login"
LOGIN_FAILED = "auth.login_failed"
LOGOUT = "auth.logout"
REGISTERED = "auth.registered"
ROLE_CHANGED = "user.role_changed"
INVITED = "user.invited"
REINVITED = "user.reinvited"
INVITATION_ACCEPTED = "user.invitation_accepted"
SITE_CREATED = "site.created"
SITE_DELETED = "site.deleted"
RETENTION_CHANGED = "site.retention_changed"
DATA_EXPORTED = "data.exported"
VISITOR_EXPORTED = "visitor.exported"
VISITOR_ERASED = "visitor.erased"

ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
MAX_ACTION = 64
# A details key containing any of these is dropped, whatever the caller meant: the log
# must never become a place to steal credentials from.
_SECRET_WORDS = ("password", "token", "secret", "hash", "cookie", "authorization", "apikey",
                 "api_key", "private")


@dataclass(frozen=True)
class Entry:
    id: int
    org_id: int | None
    actor_id: int | None
    actor_email: str | None
    action: str
    target: str | None
    ip: str | None
    details: dict
    created_at: datetime


_COLUMNS = "id, org_id, actor_id, actor_email, action, target, ip, details, created_at"


def _clean(details: dict | None) -> dict:
    out = {}
    for key, value in (details or {}).items():
        if any(word in str(key).lower() for word in _SECRET_WORDS):
            log.warning("audit: dropped detail %r (it may hold a secret)", key)
            continue
        out[str(key)] = value
    return out


async def record(db_or_cursor, action: str, *, org_id: int | None,
                 actor: User | None = None, actor_id: int | None = None,
                 actor_email: str | None = None, target: str | None = None,
                 ip: str | None = None, details: dict | None = None) -> None:
    """Append one entry. `db_or_cursor` is the pool, a connection, or a cursor (the
    entry then commits or rolls back with the caller's transaction)."""
    if len(action) > MAX_ACTION or not ACTION_NAME.match(action):
        raise ValueError(f"not an audit action name: {action!r}")
    if actor is not None:
        actor_id = actor.id if actor_id is None else actor_id
        actor_email = actor.email if actor_email is None else actor_email
    params = {"org": org_id, "actor": actor_id, "email": actor_email, "action": action,
              "target": target, "ip": ip, "details": json.dumps(_clean(details), default=str)}
    sql = ("INSERT INTO audit_log (org_id, actor_id, actor_email, action, target, ip, details)"
           " VALUES (%(org)s, %(actor)s, %(email)s, %(action)s, %(target)s, %(ip)s,"
           " %(details)s::jsonb)")
    if hasattr(db_or_cursor, "execute"):          # a cursor
        await db_or_cursor.execute(sql, params)
    elif hasattr(db_or_cursor, "acquire"):        # a pool
        await db.fetchall(db_or_cursor, sql + " RETURNING id", params)
    else:                                         # a connection
        async with db_or_cursor.cursor() as cur:
            await cur.execute(sql, params)


async def entries(pool, org_id: int, *, action: str | None = None, before_id: int | None = None,
                  limit: int = 50) -> list[Entry]:
    """An organization's entries, newest first: those with id < before_id (the next page)."""
    rows = await db.fetchall(
        pool, "SELECT " + _COLUMNS + " FROM audit_log WHERE org_id = %(org)s"
              " AND (%(action)s::text IS NULL OR action = %(action)s)"
              " AND (%(before)s::bigint IS NULL OR id < %(before)s)"
              " ORDER BY id DESC LIMIT %(limit)s",
        {"org": org_id, "action": action, "before": before_id, "limit": limit})
    return [Entry(**r) for r in rows]


async def actions_used(pool, org_id: int) -> list[str]:
    """The action names an organization's log holds, for the filter menu."""
    rows = await db.fetchall(
        pool, "SELECT DISTINCT action FROM audit_log WHERE org_id = %(org)s ORDER BY action",
        {"org": org_id})
    return [r["action"] for r in rows]
