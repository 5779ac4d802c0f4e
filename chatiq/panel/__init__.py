"""The operator panel: server-rendered pages under /admin, live over /ws/operator.

`setup_panel(app)` wires sessions, templates, static files, routes and the socket's
cookie authentication; nothing else in the app needs to know the panel exists.
"""

from __future__ import annotations

import aiohttp_jinja2
import aiohttp_session
import jinja2
from aiohttp import web

from chatiq import keys
from chatiq.auth import SESSION_AUTH
from chatiq.panel.guard import panel_guard
from chatiq.panel.oidc import setup_oidc
from chatiq.panel.render import panel_context
from chatiq.panel.routes import setup_panel_routes
from chatiq.panel.session import make_storage, socket_user
from chatiq.resources import resource_path


def setup_panel(app: web.Application) -> None:
    # Order matters: the session is loaded before templates' context and the guard use it.
    aiohttp_session.setup(app, make_storage(app[keys.CONFIG].secret_key))
    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(str(resource_path("admin", "templates"))),
        autoescape=True, context_processors=[panel_context],
        undefined=jinja2.ChainableUndefined)
    app.middlewares.append(panel_guard)
    setup_panel_routes(app)
    setup_oidc(app)
    app[SESSION_AUTH] = socket_user
