"""Rendering panel pages: the context every template gets (user, language, CSRF, t)."""

from __future__ import annotations

import hashlib
from functools import partial

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from chatiq.panel import i18n
from chatiq.core.resources import resource_path
from chatiq.panel.session import csrf_token, current_user, language


async def panel_context(request: web.Request) -> dict:
    """aiohttp_jinja2 context processor for every panel template."""
    if not request.path.startswith("/admin") or request.path.startswith("/admin/static/"):
        return {}
    lang = await language(request)
    return {
        "user": await current_user(request),
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "t": partial(i18n.translate, lang),
        "csrf_token": await csrf_token(request),
        "static": partial(static_url, request.app),
        "path_qs": request.path_qs,
        "here": request.path,
    }


def static_url(app: web.Application, filename: str) -> str:
    """A static file's URL with a content version, so a deploy busts browser caches."""
    return str(app.router["admin_static"].url_for(filename=filename).with_query(
        v=_version(filename)))


# static file name → (mtime it had, short hash of its content then)
_versions: dict[str, tuple[int, str]] = {}


def _version(filename: str) -> str:
    path = resource_path("admin", "static", filename)
    mtime = path.stat().st_mtime_ns
    cached = _versions.get(filename)
    if cached is None or cached[0] != mtime:
        cached = _versions[filename] = (mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:10])
    return cached[1]


async def render(request: web.Request, template: str, context: dict | None = None, *,
                 status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context or {}, status=status)


# --- flash: one line of feedback carried across a POST → redirect → GET ---------------

async def set_flash(request: web.Request, key: str) -> None:
    """Remember an i18n key to show once on the next page this browser loads."""
    (await get_session(request))["flash"] = key


async def take_flash(request: web.Request) -> dict | None:
    """The remembered feedback, as templates' `flash`, forgotten once read."""
    key = (await get_session(request)).pop("flash", None)
    return {"kind": "ok", "key": key} if key else None


async def redirect_with_flash(request: web.Request, key: str, location: str):
    await set_flash(request, key)
    raise web.HTTPFound(location)
