"""One email: plain-text and HTML parts in the reader's language, with a Message-ID derived
from the outbox job's key, so a receiver can drop the copy a retry sent twice.

Callers hand in HTML they built with `para`, `button` and `html.escape`: every piece of
user text (names, messages, site names) is escaped before it gets here.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from chatiq.mail.strings import translate
from chatiq.store.mail import MailSettings


# Addresses ChatIQ will write to or from on a stranger's word (a visitor, a form): plain
# ASCII dot-atoms only, so nothing odd reaches a header or an SMTP command.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                      r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


def valid_address(value: str) -> bool:
    return len(value) <= 254 and len(value.partition("@")[0]) <= 64 \
        and _ADDRESS.fullmatch(value) is not None


@dataclass(frozen=True)
class Letter:
    """A built message and its envelope recipients."""

    message: EmailMessage
    recipients: list[str]


def one_line(value: str, limit: int = 200) -> str:
    """Header-safe text: control characters and line breaks become spaces."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())[:limit]


def para(text: str, style: str = "") -> str:
    attr = f' style="{style}"' if style else ""
    return f"<p{attr}>{html.escape(text)}</p>"


def button(url: str, label: str) -> str:
    return (f'<p><a href="{html.escape(url)}" style="display:inline-block;padding:10px 18px;'
            f'background:#4f46e5;color:#ffffff;border-radius:6px;text-decoration:none">'
            f"{html.escape(label)}</a></p>")


def author(row: dict, t) -> str:
    """Who wrote a stored message (a MESSAGE_SELECT row), as a reader sees it."""
    kind = row["author_kind"]
    if kind == "visitor":
        return row["visitor_name"] or t("mail.author.visitor", n=row["author_id"])
    if kind == "operator":
        return row["operator_name"] or t("mail.author.operator")
    return t("mail.author." + kind)  # bot, system


def message_id(settings: MailSettings, key: str, part: str = "") -> str:
    """Stable per (organization, job key, part): every attempt at one email repeats it."""
    digest = hashlib.sha256(f"{settings.org_id}\n{key}\n{part}".encode()).hexdigest()[:40]
    domain = settings.from_email.rpartition("@")[2] or "chatiq.invalid"
    return f"<{digest}@{domain}>"


def build(settings: MailSettings, *, org_name: str, key: str, part: str = "", lang: str,
          to: list[tuple[str, str]], subject: str, text: str, body_html: str,
          reply_to: str | None = None) -> Letter:
    """`to`: (name, address) pairs. Raises ValueError for an address no header can hold."""
    subject = one_line(subject)
    footer = translate(lang, "mail.footer", org=one_line(org_name, 100))
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address(one_line(settings.from_name or org_name, 100),
                              addr_spec=settings.from_email)
    message["To"] = [Address(one_line(name, 100), addr_spec=address) for name, address in to]
    if reply_to and valid_address(reply_to):
        message["Reply-To"] = Address(addr_spec=reply_to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(settings, key, part)
    # RFC 3834: sent by a machine, so vacation responders must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"{text.rstrip()}\n\n-- \n{footer}\n")
    message.add_alternative(
        f'<!doctype html><html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>"
        f'<body style="font:15px/1.5 system-ui,sans-serif;color:#111827;max-width:40rem;'
        f'margin:0 auto;padding:16px">{body_html}'
        f'<p style="color:#6b7280;font-size:12px;margin-top:32px">{html.escape(footer)}</p>'
        f"</body></html>\n", subtype="html")
    # After the parts exist: making the message multipart moves Content-* headers into
    # its first part.
    message["Content-Language"] = lang
    return Letter(message, [address for _, address in to])
