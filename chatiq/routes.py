"""The one URL table: every route, named. The API part also feeds openapi.json; features
declare their panel pages in a ROUTES list of their own, which the table takes in here."""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.api import auth as api_auth
from chatiq.api import chats as api_chats
from chatiq.api import health
from chatiq.api import metrics as api_metrics
from chatiq.api import openapi as api_openapi
from chatiq.api import site_identity as api_identity
from chatiq.api import sites as api_sites
from chatiq.api import widget as widget_http
from chatiq.api.openapi import ApiRoute
from chatiq.automation import analytics as analytics_api
from chatiq.automation import api as automation_api
from chatiq.automation import pages as automation_pages
from chatiq.core.resources import resource_path
from chatiq.files import api as api_uploads
from chatiq.files import download as files
from chatiq.live import operator as ws_operator
from chatiq.live import visitor as ws_visitor
from chatiq.mail import api as mail_api
from chatiq.mail import pages as mail_pages
from chatiq.mail import reset as mail_reset
from chatiq.mail import settings as mail_settings
from chatiq.oidc import pages as oidc_pages
from chatiq.panel import account, chats, settings, site_identity, sites, team
from chatiq.privacy import api as privacy_api
from chatiq.privacy import pages as privacy_pages
from chatiq.webhooks import api as webhooks_api
from chatiq.webhooks import pages as webhook_pages

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
    ApiRoute("GET", "/api/v1/sites/{id}/identity", api_identity.get_identity, "site_identity",
             "The site's identity secret (made on first read) and enforcement (OWNER)"),
    ApiRoute("PATCH", "/api/v1/sites/{id}/identity", api_identity.patch_identity,
             "site_identity_update",
             "Refuse visitors without a verified identity, or not (OWNER)",
             body=api_identity.IDENTITY_PATCH),
    ApiRoute("POST", "/api/v1/sites/{id}/identity/rotate", api_identity.rotate_identity,
             "site_identity_rotate",
             "A new identity secret; hashes made with the old one stop verifying (OWNER)"),
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
    ApiRoute("POST", "/api/v1/uploads", api_uploads.upload, "upload",
             "Upload one file (multipart/form-data, field 'file'; visitors add siteKey and"
             " visitorToken, operators chatId, before the file); send it with attachmentId",
             auth=False, status=201),
    ApiRoute("GET", "/api/v1/sites/{id}/hours", automation_api.get_hours, "site_hours",
             "Business hours and whether the site is open now"),
    ApiRoute("PUT", "/api/v1/sites/{id}/hours", automation_api.put_hours, "site_hours_update",
             "Replace business hours; open widgets hear business:status at once (OWNER)",
             body=automation_api.HOURS),
    ApiRoute("GET", "/api/v1/sites/{id}/automation", automation_api.get_automation_settings,
             "site_automation", "Automation settings (store the greeting as a bot message)"),
    ApiRoute("PATCH", "/api/v1/sites/{id}/automation",
             automation_api.patch_automation_settings, "site_automation_update",
             "Change automation settings (OWNER)", body=automation_api.AUTOMATION_SETTINGS),
    ApiRoute("GET", "/api/v1/sites/{id}/auto-replies", automation_api.list_rules,
             "auto_replies", "The site's auto-reply rules"),
    ApiRoute("POST", "/api/v1/sites/{id}/auto-replies", automation_api.create_rule,
             "auto_reply_create", "Add an auto-reply rule (OWNER; off unless enabled)",
             body=automation_api.RULE_CREATE, status=201),
    ApiRoute("PATCH", "/api/v1/auto-replies/{id}", automation_api.patch_rule,
             "auto_reply_update", "Change an auto-reply rule (OWNER)",
             body=automation_api.RULE_PATCH),
    ApiRoute("DELETE", "/api/v1/auto-replies/{id}", automation_api.delete_rule,
             "auto_reply_delete", "Delete an auto-reply rule (OWNER)", status=204),
    ApiRoute("GET", "/api/v1/templates", automation_api.list_templates, "templates",
             "Quick templates (organization-wide and per site)",
             query={"siteId": "only those usable on this site",
                    "chatId": "also render {visitor.name}, {operator.name}, {site.name}"}),
    ApiRoute("POST", "/api/v1/templates", automation_api.create_template, "template_create",
             "Add a quick template (OWNER)", body=automation_api.TEMPLATE_CREATE, status=201),
    ApiRoute("PATCH", "/api/v1/templates/{id}", automation_api.patch_template,
             "template_update", "Change a quick template; siteId \"\" makes it org-wide (OWNER)",
             body=automation_api.TEMPLATE_PATCH),
    ApiRoute("DELETE", "/api/v1/templates/{id}", automation_api.delete_template,
             "template_delete", "Delete a quick template (OWNER)", status=204),
    ApiRoute("GET", "/api/v1/analytics", analytics_api.get_analytics, "analytics",
             "Chats, messages, missed chats, response and resolution times, operators,"
             " busiest hours",
             query={"from": "first local date, YYYY-MM-DD (default: 30 days before to)",
                    "to": "last local date, inclusive (default: today); at most 366 days",
                    "siteId": "only this site", "tz": "IANA zone (default: the site's or UTC)",
                    "format": "json or csv", "table": "csv table: days, operators or hours"}),
    ApiRoute("GET", "/api/v1/chats/{id}/transcript", privacy_api.transcript, "chat_transcript",
             "The chat as a file to save (Content-Disposition: attachment)",
             query={"format": "txt (default), html or json"}),
    ApiRoute("GET", "/api/v1/export", privacy_api.export, "export",
             "Every message of the chats started in a date range, one row per message,"
             " streamed; only sites the user may see",
             query={"from": "first date, YYYY-MM-DD (default: 30 days before to)",
                    "to": "last date, inclusive (default: today)", "siteId": "only this site",
                    "tz": "IANA zone the dates are in (default UTC)",
                    "format": "jsonl (default) or csv"}),
    ApiRoute("GET", "/api/v1/visitors/{id}/export", privacy_api.visitor_export,
             "visitor_export",
             "Everything kept about one visitor as JSON: details, chats, messages, files (OWNER)"),
    ApiRoute("DELETE", "/api/v1/visitors/{id}", privacy_api.visitor_erase, "visitor_erase",
             "Erase one visitor: details, chats, messages, files; their widgets are closed"
             " (OWNER)"),
    ApiRoute("GET", "/api/v1/sites/{id}/retention", privacy_api.get_retention, "site_retention",
             "Days the site keeps idle chats and old attachments (null: forever)"),
    ApiRoute("PUT", "/api/v1/sites/{id}/retention", privacy_api.put_retention,
             "site_retention_update",
             "Set the retention period in days, or null to keep everything (OWNER)",
             body=privacy_api.RETENTION),
    ApiRoute("GET", "/api/v1/audit", privacy_api.audit_log, "audit",
             "Security-relevant actions in the organization, newest first (OWNER)",
             query={"action": "only this action, e.g. auth.login_failed",
                    "before": "the previous page's `next`", "limit": "1-500, default 50"}),
    ApiRoute("GET", "/api/v1/sites/{id}/webhooks", webhooks_api.list_webhooks, "webhooks",
             "The site's webhook endpoints, secrets included (OWNER)"),
    ApiRoute("POST", "/api/v1/sites/{id}/webhooks", webhooks_api.create_webhook,
             "webhook_create",
             "Add a webhook endpoint: an http(s) URL and the events it wants (default: all);"
             " a signing secret is generated (OWNER)",
             body=webhooks_api.WEBHOOK_CREATE, status=201),
    ApiRoute("GET", "/api/v1/webhooks/{id}", webhooks_api.get_webhook, "webhook",
             "One webhook endpoint (OWNER)"),
    ApiRoute("PATCH", "/api/v1/webhooks/{id}", webhooks_api.patch_webhook, "webhook_update",
             "Change a webhook's URL, events or enabled flag (OWNER)",
             body=webhooks_api.WEBHOOK_PATCH),
    ApiRoute("DELETE", "/api/v1/webhooks/{id}", webhooks_api.delete_webhook, "webhook_delete",
             "Delete a webhook endpoint and its deliveries (OWNER)", status=204),
    ApiRoute("POST", "/api/v1/webhooks/{id}/rotate-secret", webhooks_api.rotate_secret,
             "webhook_rotate", "A new signing secret, used from the next delivery on (OWNER)"),
    ApiRoute("POST", "/api/v1/webhooks/{id}/test", webhooks_api.send_test, "webhook_test",
             "Send a webhook.test event to the endpoint now (OWNER)", status=202),
    ApiRoute("GET", "/api/v1/webhooks/{id}/deliveries", webhooks_api.list_deliveries,
             "webhook_deliveries", "The endpoint's newest deliveries with every attempt (OWNER)",
             query={"limit": "1-200, default 50"}),
    ApiRoute("POST", "/api/v1/webhooks/{id}/retry", webhooks_api.retry_delivery,
             "webhook_retry", "Deliver a failed or waiting delivery again now (OWNER)",
             body=webhooks_api.RETRY),
    ApiRoute("GET", "/api/v1/mail", mail_api.get_mail, "mail",
             "The organization's SMTP settings, null when email is off (OWNER; the password"
             " is never returned)"),
    ApiRoute("PUT", "/api/v1/mail", mail_api.put_mail, "mail_update",
             "Set the SMTP settings; password absent keeps the saved one, \"\" removes it;"
             " links in emails will start with this request's origin (OWNER)",
             body=mail_settings.SETTINGS),
    ApiRoute("DELETE", "/api/v1/mail", mail_api.delete_mail, "mail_delete",
             "Remove the SMTP settings: nothing is emailed any more (OWNER)", status=204),
    ApiRoute("POST", "/api/v1/mail/test", mail_api.test_mail, "mail_test",
             "Send a test email now; 502 smtp_failed with the server's reason (OWNER)",
             body=mail_settings.TEST),
    ApiRoute("GET", "/api/v1/sites/{id}/missed-chat", mail_api.get_missed_chat,
             "site_missed_chat",
             "Minutes a visitor waits for a reply before the team is emailed (0: never)"),
    ApiRoute("PUT", "/api/v1/sites/{id}/missed-chat", mail_api.put_missed_chat,
             "site_missed_chat_update", "Set the missed-chat wait in minutes, 0-1440 (OWNER)",
             body=mail_settings.MISSED_CHAT),
    ApiRoute("GET", "/api/v1/openapi.json", api_openapi.openapi, "openapi",
             "This description", auth=False),
]


# The operator panel: every /admin page, named `panel_*`.
PANEL_ROUTES = [
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
    ("POST", "/admin/sites/{id}/allow-origin", sites.allow_origin, "panel_site_allow_origin"),
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
    ("GET", "/admin/chats/{id}/transcript", privacy_pages.transcript, "panel_chat_transcript"),
    ("GET", "/admin/visitors/{id}", privacy_pages.visitor_page, "panel_visitor"),
    ("GET", "/admin/visitors/{id}/export", privacy_pages.visitor_export, "panel_visitor_export"),
    ("POST", "/admin/visitors/{id}/erase", privacy_pages.visitor_erase, "panel_visitor_erase"),
    ("POST", "/admin/sites/{id}/retention", privacy_pages.retention_save, "panel_site_retention"),
    ("GET", "/admin/audit", privacy_pages.audit_page, "panel_audit"),
    *oidc_pages.ROUTES,
    *mail_pages.ROUTES,
    *mail_reset.ROUTES,
    *webhook_pages.ROUTES,
]


def setup_routes(app: web.Application) -> None:
    app[keys.API_ROUTES] = API_ROUTES  # openapi.json describes them
    router = app.router
    router.add_get("/healthz", health.healthz, name="healthz")
    router.add_get("/metrics", api_metrics.metrics, name="metrics")
    router.add_get("/ws/widget", ws_visitor.widget_socket, name="ws_widget")
    router.add_get("/ws/operator", ws_operator.operator_socket, name="ws_operator")
    router.add_get("/widget.js", widget_http.widget_js, name="widget_js")
    router.add_get("/demo", widget_http.demo, name="demo")
    router.add_get("/favicon.ico", widget_http.favicon, name="favicon")
    router.add_get("/demo/{siteKey}", widget_http.demo, name="demo_site")
    # The preview first: a stored name always has an extension, so it is never "thumb".
    router.add_get("/files/{id}/thumb", files.thumbnail, name="file_thumb")
    router.add_get("/files/{id}/{name}", files.download, name="file")
    for route in API_ROUTES:
        router.add_route(route.method, route.path, route.handler, name=route.name)
    for method, path, handler, name in PANEL_ROUTES:
        router.add_route(method, path, handler, name=name)
    router.add_static("/admin/static/", resource_path("admin", "static"), name="admin_static")
