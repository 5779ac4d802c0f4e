"""An organization's SMTP settings as the API and the panel take them: one validation, one
JSON shape (the password never comes back), one way to save and to send a test email."""

from __future__ import annotations

import ipaddress
import math
import re
from functools import partial

from aiohttp import web

from chatiq import keys
from chatiq.mail import smtp
from chatiq.mail.cipher import Undecryptable, seal
from chatiq.mail.messages import build, para, valid_address
from chatiq.mail.sender import server_for
from chatiq.outbox import DeliveryFailed
from chatiq.mail.strings import translate
from chatiq.api.audit import record_request
from chatiq.core.protocol import Int, ProtocolError, Str, iso
from chatiq.core.security import new_token
from chatiq.store import mail as store
from chatiq.store.accounts import User
from chatiq.store.mail import MailSettings

SETTINGS = {
    "host": Str(required=True, min_len=1, max_len=253, strip=True),
    "port": Int(required=True, minimum=1, maximum=65535),
    "security": Str(required=True, choices=set(smtp.SECURITY)),
    "username": Str(max_len=254),
    # Absent or null: keep the saved one; "": none.
    "password": Str(max_len=500),
    "fromEmail": Str(required=True, max_len=254, strip=True),
    "fromName": Str(max_len=100, strip=True),
}
TEST = {"to": Str(required=True, max_len=254, strip=True)}
MISSED_CHAT = {"minutes": Int(required=True, minimum=0, maximum=1440)}
# Audit actions for the organization's log.
CHANGED = "mail.settings_changed"
REMOVED = "mail.settings_removed"

# A host name or an IPv4 address (or an IPv6 one, checked apart): nothing that could
# smuggle a port, a path or a second command in.
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_settings(data: dict) -> dict:
    """Checks past the field specs (data went through them already); ProtocolError names
    the field."""
    if not _HOST.fullmatch(data["host"]) and not _ipv6(data["host"]):
        raise ProtocolError("invalid", "'host' must be a host name or an IP address",
                            field="host")
    if not valid_address(data["fromEmail"]):
        raise ProtocolError("invalid", "'fromEmail' is not an email address", field="fromEmail")
    for name in ("username", "password", "fromName"):
        if _CONTROL.search(data.get(name) or ""):
            raise ProtocolError("invalid", f"'{name}' must be one line of text", field=name)
    return data


def _ipv6(host: str) -> bool:
    if "%" in host:  # a zone index names this machine's interface: not a mail server's
        return False
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def settings_object(found: MailSettings | None) -> dict | None:
    if found is None:
        return None
    return {"host": found.host, "port": found.port, "security": found.security,
            "username": found.username, "passwordSet": found.password_enc is not None,
            "fromEmail": found.from_email, "fromName": found.from_name,
            "baseUrl": found.base_url, "updatedAt": iso(found.updated_at)}


def minutes(seconds: int) -> int:
    return math.ceil(seconds / 60)


async def save(request: web.Request, owner: User, data: dict, base_url: str) -> MailSettings:
    """Store checked settings (`data` in the API's names) and note it in the audit log."""
    app = request.app
    password = data.get("password")
    saved = await store.save_settings(
        app[keys.POOL], owner.org_id, host=data["host"], port=data["port"],
        security=data["security"], username=data.get("username") or "",
        password_enc=seal(app[keys.CONFIG].secret_key, password) if password else None,
        keep_password=password is None, from_email=data["fromEmail"],
        from_name=data.get("fromName") or "", base_url=base_url)
    await record_request(request, CHANGED, owner, details={
        "host": saved.host, "port": saved.port, "security": saved.security,
        "from": saved.from_email, "credentials_changed": password is not None})
    return saved


async def remove(request: web.Request, owner: User) -> bool:
    removed = await store.delete_settings(request.app[keys.POOL], owner.org_id)
    if removed:
        await record_request(request, REMOVED, owner)
    return removed


async def send_test(request: web.Request, owner: User, settings: MailSettings, to: str) -> None:
    """Send a test email now, not through the outbox: the OWNER waits for the verdict.
    Raises DeliveryFailed with the server's reason."""
    if not valid_address(to):
        raise ProtocolError("invalid", "'to' is not an email address", field="to")
    config = request.app[keys.CONFIG]
    t = partial(translate, owner.language)
    org_name, _ = await store.names(request.app[keys.POOL], owner.org_id)
    # A fresh Message-ID each time: a second test must not look like a copy of the first.
    letter = build(settings, org_name=org_name, key=f"test:{new_token()}", lang=owner.language,
                   to=[("", to)], subject=t("mail.test.subject"), text=t("mail.test.body"),
                   body_html=para(t("mail.test.body")))
    try:
        server = server_for(settings, config.secret_key, config.smtp_timeout_seconds)
    except Undecryptable as exc:
        raise DeliveryFailed(str(exc)) from None
    await smtp.send(server, letter.message, letter.recipients)

