"""The panel's URL table: every /admin route, named `panel_*`."""

from __future__ import annotations

from aiohttp import web

from chatiq.panel import (account, automation_pages, chats, oidc, settings, site_identity, sites,
                          team)
from chatiq.mail import pages as mail_pages
from chatiq.mail import reset as mail_reset
from chatiq.privacy import panel as privacy
from chatiq.resources import resource_path
from chatiq.webhooks import pages as webhook_pages

ROUTES = [
    ("GET", "/admin", account.index, "panel_index"),
    ("GET", "/admin/login", account.login_page, "panel_login"),
    ("POST", "/admin/login", account.login, "panel_login_post"),
    ("GET", "/admin/signup", account.signup_page, "panel_signup"),
    ("POST", "/admin/signup", account.signup, "panel_signup_post"),
    ("POST", "/admin/logout", account.logout, "panel_logout"),
    ("POST", "/admin/language", account.set_language, "panel_language"),
    ("GET", "/admin/invite/{token}", account.invite_page, "panel_invite"),
    ("POST", "/admin/invite/{token}", account.accept_invite, "panel_invite_post"),
    ("GET", "/admin/chats", chats.chats_page, "panel_chats"),
    ("GET", "/admin/chats/{id}", chats.chats_page, "panel_chat"),
    ("GET", "/admin/api/chats/{id}/messages", chats.older_messages, "panel_api_messages"),
    ("POST", "/admin/api/uploads", chats.upload, "panel_api_upload"),
    ("GET", "/admin/sites", sites.sites_page, "panel_sites"),
    ("POST", "/admin/sites", sites.create_site, "panel_site_create"),
    ("POST", "/admin/sites/{id}", sites.update_site, "panel_site_update"),
    ("POST", "/admin/sites/{id}/operators", sites.set_operators, "panel_site_operators"),
    ("GET", "/admin/sites/{id}/settings", settings.settings_page, "panel_site_settings"),
    ("POST", "/admin/sites/{id}/settings", settings.save_settings, "panel_site_settings_post"),
    ("POST", "/admin/sites/{id}/identity", site_identity.save_enforce, "panel_site_identity"),
    ("POST", "/admin/sites/{id}/identity/rotate", site_identity.rotate,
     "panel_site_identity_rotate"),
    ("GET", "/admin/team", team.team_page, "panel_team"),
    ("POST", "/admin/team/invite", team.invite, "panel_team_invite"),
    ("POST", "/admin/team/{id}/role", team.set_role, "panel_team_role"),
    ("POST", "/admin/team/{id}/reinvite", team.reinvite, "panel_team_reinvite"),
    *automation_pages.ROUTES,
    ("GET", "/admin/chats/{id}/transcript", privacy.transcript, "panel_chat_transcript"),
    ("GET", "/admin/visitors/{id}", privacy.visitor_page, "panel_visitor"),
    ("GET", "/admin/visitors/{id}/export", privacy.visitor_export, "panel_visitor_export"),
    ("POST", "/admin/visitors/{id}/erase", privacy.visitor_erase, "panel_visitor_erase"),
    ("POST", "/admin/sites/{id}/retention", privacy.retention_save, "panel_site_retention"),
    ("GET", "/admin/audit", privacy.audit_page, "panel_audit"),
    *oidc.ROUTES,
    *mail_pages.ROUTES,
    *mail_reset.ROUTES,
    *webhook_pages.ROUTES,
]


def setup_panel_routes(app: web.Application) -> None:
    router = app.router
    for method, path, handler, name in ROUTES:
        router.add_route(method, path, handler, name=name)
    router.add_static("/admin/static/", resource_path("admin", "static"), name="admin_static")
