"""`audit.record` for request handlers: the pool, the actor's organization and address filled in."""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.store import audit
from chatiq.store.accounts import User


async def record_request(request: web.Request, action: str, user: User | None = None, *,
                         org_id: int | None = None, **fields) -> None:
    """Record `action` by `user` (or, without one, for `org_id`) from this request's client.
    `fields` are record()'s: target, details, actor_email, actor_id."""
    if org_id is None and user is not None:
        org_id = user.org_id
    await audit.record(request.app[keys.POOL], action, org_id=org_id, actor=user,
                       ip=request.remote, **fields)
