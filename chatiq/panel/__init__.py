"""The operator panel: server-rendered pages under /admin, live over /ws/operator.

`setup_panel(app)` wires sessions, templates, the guard and the socket's cookie
authentication; the pages' URLs are in chatiq/routes.py like every other route.
"""

from __future__ import annotations

import aiohttp_jinja2
import aiohttp_session
import jinja2
from aiohttp import web

from chatiq import keys
from chatiq.panel.guard import panel_guard
from chatiq.panel.render import panel_context
from chatiq.panel.session import make_storage, socket_user
from chatiq.core.resources import resource_path


def setup_panel(app: web.Application) -> None:
    # Order matters: the session is loaded before templates' context and the guard use it.
    aiohttp_session.setup(app, make_storage(app[keys.CONFIG].secret_key))
    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(str(resource_path("admin", "templates"))),
        autoescape=True, context_processors=[panel_context],
        undefined=jinja2.ChainableUndefined)
    app.middlewares.append(panel_guard)
    app[keys.SESSION_AUTH] = socket_user
