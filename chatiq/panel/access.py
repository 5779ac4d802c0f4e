"""Who may reach what in the panel: one helper per rule, called by every view."""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from chatiq.panel.session import current_user
from chatiq.store.accounts import User


async def require_user(request: web.Request) -> User:
    """The signed-in user; pages send strangers to the login form, JSON answers 401."""
    user = await current_user(request)
    if user is None:
        if request.path.startswith("/admin/api/"):
            raise web.HTTPUnauthorized(
                text='{"error": {"code": "unauthorized", "message": "sign in first"}}',
                content_type="application/json")
        raise web.HTTPFound(str(URL("/admin/login").with_query(next=request.path_qs)))
    return user


async def require_owner(request: web.Request) -> User:
    user = await require_user(request)
    if not user.is_owner:
        raise web.HTTPForbidden()
    return user


def safe_next(value: str | None, default: str = "/admin/chats") -> str:
    """Only our own panel paths: `next` must never send anyone to another site."""
    if not value or not value.startswith("/admin") or value.startswith("//") or "\\" in value:
        return default
    return value
