"""The panel's Email page (OWNER): SMTP settings, a test email, each site's missed-chat
wait and the latest emails with their delivery state."""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.mail import settings as mail_settings
from chatiq.outbox import DeliveryFailed
from chatiq.panel import i18n
from chatiq.panel.access import require_owner
from chatiq.panel.render import render
from chatiq.panel.session import language
from chatiq.panel.sites import own_origin
from chatiq.core.protocol import ProtocolError, clean_fields, make_id, parse_id
from chatiq.store import mail as store
from chatiq.store import outbox, sites
from chatiq.store.accounts import User

# Field (API name) → the i18n key explaining what it takes.
_FIELD_ERRORS = {"host": "mail.bad_host", "port": "mail.bad_port",
                 "security": "mail.bad_security", "fromEmail": "mail.bad_from"}
_TEXT_FIELDS = {"username": ("mail.username", 254), "password": ("mail.password", 500),
                "fromName": ("mail.from_name", 100)}
LOG_ROWS = 20


async def mail_page(request: web.Request, *, status: int = 200, **extra) -> web.Response:
    owner = await require_owner(request)
    pool = request.app[keys.POOL]
    found = mail_settings.settings_object(await store.settings_for(pool, owner.org_id))
    form = extra.pop("form", None) or found or {"port": 587, "security": "starttls"}
    site_rows = [{"ref": make_id("s", s["id"]), "name": s["name"],
                  "minutes": mail_settings.minutes(s["missed_chat_seconds"])}
                 for s in await store.sites_missed_chat(pool, owner.org_id)]
    log = [{"created_at": job.created_at, "what": str(job.payload.get("type", "")),
            "status": job.status, "attempts": job.attempts, "error": job.last_error}
           for job in await outbox.jobs(pool, org_id=owner.org_id, kind="email",
                                        limit=LOG_ROWS)]
    return await render(request, "mail.html", {
        "settings": found, "form": form, "sites": site_rows, "log": log,
        "security_choices": mail_settings.smtp.SECURITY, "test_to": owner.email, **extra},
        status=status)


async def _notice(request: web.Request, key: str, **values) -> dict:
    return {"text": i18n.translate(await language(request), key, **values)}


async def _field_error(request: web.Request, form: str, exc: ProtocolError) -> dict:
    lang = await language(request)
    field = exc.field or ""
    if field in _TEXT_FIELDS:
        label, limit = _TEXT_FIELDS[field]
        text = i18n.translate(lang, "mail.bad_text", field=i18n.translate(lang, label), n=limit)
    else:
        text = i18n.translate(lang, _FIELD_ERRORS.get(field, "form.invalid"), field=field)
    return {"form": form, "field": field, "text": text}


async def save_mail(request: web.Request) -> web.Response:
    owner = await require_owner(request)
    form = await request.post()
    raw = {name: str(form.get(field, "")) for name, field in (
        ("host", "host"), ("security", "security"), ("username", "username"),
        ("fromEmail", "from_email"), ("fromName", "from_name"))}
    shown = {**raw, "port": str(form.get("port", ""))}
    data: dict = {**raw}
    try:
        data["port"] = _port(str(form.get("port", "")))
        # An empty field keeps the saved password (it is never shown); the box removes it.
        password = str(form.get("password", ""))
        if password:
            data["password"] = password
        elif form.get("clear_password"):
            data["password"] = ""
        data = mail_settings.clean_settings(clean_fields(mail_settings.SETTINGS, data))
    except ProtocolError as exc:
        return await mail_page(request, status=422, form=shown,
                               error=await _field_error(request, "smtp", exc))
    await mail_settings.save(request, owner, data, own_origin(request))
    return await mail_page(request, notice=await _notice(request, "mail.saved"))


def _port(value: str) -> int:
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 5:
        raise ProtocolError("invalid", "'port' must be a number", field="port")
    return int(value)


async def remove_mail(request: web.Request) -> web.Response:
    owner = await require_owner(request)
    await mail_settings.remove(request, owner)
    return await mail_page(request, notice=await _notice(request, "mail.removed"))


async def test_mail(request: web.Request) -> web.Response:
    owner = await require_owner(request)
    to = str((await request.post()).get("to", "")).strip()
    found = await store.settings_for(request.app[keys.POOL], owner.org_id)
    if found is None:
        return await mail_page(request, status=409, test_to=to, error={
            "form": "test", "text": i18n.translate(owner.language, "mail.test_needs_settings")})
    try:
        await mail_settings.send_test(request, owner, found, to)
    except ProtocolError:
        return await mail_page(request, status=422, test_to=to, error={
            "form": "test", "field": "to", "text": i18n.translate(owner.language,
                                                                  "auth.bad_email")})
    except DeliveryFailed as exc:
        return await mail_page(request, status=502, test_to=to, error={
            "form": "test", "text": i18n.translate(owner.language, "mail.test_failed",
                                                   reason=str(exc))})
    return await mail_page(request, test_to=to,
                           notice=await _notice(request, "mail.test_sent", email=to))


async def save_missed_chat(request: web.Request) -> web.Response:
    owner: User = await require_owner(request)
    pool = request.app[keys.POOL]
    site = await sites.site_for(pool, owner, parse_id("s", request.match_info["id"]))
    raw = str((await request.post()).get("minutes", "")).strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4 or int(raw) > 1440:
        return await mail_page(request, status=422, error={
            "form": "missed", "field": make_id("s", site.id),
            "text": i18n.translate(owner.language, "mail.bad_minutes")})
    await store.set_missed_chat_seconds(pool, site.id, int(raw) * 60)
    return await mail_page(request, notice=await _notice(request, "mail.missed_saved",
                                                         site=site.name))


ROUTES = [
    ("GET", "/admin/mail", mail_page, "panel_mail"),
    ("POST", "/admin/mail", save_mail, "panel_mail_save"),
    ("POST", "/admin/mail/remove", remove_mail, "panel_mail_remove"),
    ("POST", "/admin/mail/test", test_mail, "panel_mail_test"),
    ("POST", "/admin/mail/sites/{id}", save_missed_chat, "panel_mail_site"),
]
