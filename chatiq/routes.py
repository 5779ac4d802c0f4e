"""The one URL table: every route, named; the API part also feeds openapi.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable

from aiohttp import web

from chatiq import health, widget_http, ws_operator, ws_visitor
from chatiq.api import auth as api_auth
from chatiq.api import chats as api_chats
from chatiq.api import openapi as api_openapi
from chatiq.api import sites as api_sites
from chatiq.protocol import Field


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    name: str
    summary: str
    auth: bool = True
    body: dict[str, Field] | None = None
    query: dict[str, str] = field(default_factory=dict)  # name → description
    status: int = 200


API_ROUTES = [
    ApiRoute("POST", "/api/v1/auth/register", api_auth.register, "register",
             "Create an organization and its OWNER; returns a JWT", auth=False,
             body=api_auth.REGISTER, status=201),
    ApiRoute("POST", "/api/v1/auth/login", api_auth.login, "login",
             "Exchange email and password for a JWT", auth=False, body=api_auth.LOGIN),
    ApiRoute("POST", "/api/v1/auth/logout", api_auth.logout, "logout",
             "Revoke every token of the current user"),
    ApiRoute("GET", "/api/v1/auth/me", api_auth.me, "me", "The current user"),
    ApiRoute("GET", "/api/v1/sites", api_sites.list_sites, "sites", "Sites the user may see"),
    ApiRoute("POST", "/api/v1/sites", api_sites.create_site, "site_create",
             "Create a site (OWNER)", body=api_sites.SITE_CREATE, status=201),
    ApiRoute("GET", "/api/v1/sites/{id}", api_sites.get_site, "site", "One site"),
    ApiRoute("PATCH", "/api/v1/sites/{id}", api_sites.patch_site, "site_update",
             "Rename, enable/disable, set allowed origins (OWNER)", body=api_sites.SITE_PATCH),
    ApiRoute("DELETE", "/api/v1/sites/{id}", api_sites.delete_site, "site_delete",
             "Delete a site and all its chats (OWNER)", status=204),
    ApiRoute("GET", "/api/v1/sites/{id}/settings", api_sites.get_settings, "site_settings",
             "The site's widget settings"),
    ApiRoute("PATCH", "/api/v1/sites/{id}/settings", api_sites.patch_settings,
             "site_settings_update",
             "Change widget settings; open widgets restyle at once (OWNER)",
             body=api_sites.SETTINGS),
    ApiRoute("GET", "/api/v1/chats", api_chats.list_chats, "chats",
             "Chats, newest activity first",
             query={"status": "open or closed", "siteId": "only this site",
                    "q": "search visitor name/email and message text",
                    "assigned": "me or none", "limit": "at most this many (1-500, default 100)"}),
    ApiRoute("GET", "/api/v1/chats/{id}", api_chats.get_chat, "chat", "One chat summary"),
    ApiRoute("GET", "/api/v1/chats/{id}/messages", api_chats.list_messages, "chat_messages",
             "Messages oldest first with seq > afterSeq (or the ones before beforeSeq)",
             query={"afterSeq": "resume cursor (default 0)", "beforeSeq": "scroll back",
                    "limit": "1-1000, default 500"}),
    ApiRoute("GET", "/api/v1/openapi.json", api_openapi.openapi, "openapi",
             "This description", auth=False),
]


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/healthz", health.healthz, name="healthz")
    router.add_get("/ws/widget", ws_visitor.widget_socket, name="ws_widget")
    router.add_get("/ws/operator", ws_operator.operator_socket, name="ws_operator")
    router.add_get("/widget.js", widget_http.widget_js, name="widget_js")
    router.add_get("/demo", widget_http.demo, name="demo")
    router.add_get("/demo/{siteKey}", widget_http.demo, name="demo_site")
    for route in API_ROUTES:
        router.add_route(route.method, route.path, route.handler, name=route.name)
