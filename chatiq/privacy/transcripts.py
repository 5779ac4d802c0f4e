"""One chat as a downloadable transcript: plain text, HTML or JSON, streamed page by page.

Every piece of user text in the HTML goes through html.escape, and the page is served
with a CSP that allows only its own stylesheet: a transcript can never run a script.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from datetime import datetime, timezone
from functools import partial

from aiohttp import web

from chatiq import keys
from chatiq.panel.i18n import translate
from chatiq.privacy.download import start_download, stream_failed
from chatiq.core.protocol import parse_id
from chatiq.store import chats, sites
from chatiq.store.accounts import User
from chatiq.core.wire import chat_summary, message_object

FORMATS = ("txt", "html", "json")
# Messages per query while streaming: memory stays flat however long the chat is.
PAGE = 500

_STYLE = ("body{font:15px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
          "padding:0 1rem;color:#111827}h1{font-size:1.3rem}dl{display:grid;"
          "grid-template-columns:max-content 1fr;gap:.2rem 1rem;color:#4b5563}"
          "ol{list-style:none;padding:0}li{border-top:1px solid #e5e7eb;padding:.5rem 0}"
          ".who{font-weight:600}.when{color:#6b7280;font-size:.85rem;margin-left:.5rem}"
          ".text{white-space:pre-wrap;overflow-wrap:anywhere;margin:.2rem 0 0}"
          ".file{color:#4b5563;font-style:italic}")
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
HTML_CSP = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; frame-ancestors 'none';"
            " base-uri 'none'; form-action 'none'")


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def author_label(row: dict, t) -> str:
    kind = row["author_kind"]
    if kind == "visitor":
        return row["visitor_name"] or t("transcript.visitor", n=row["author_id"])
    if kind == "operator":
        return row["operator_name"] or t("transcript.operator")
    return t("transcript." + kind)  # bot, system


def _attachment(row: dict) -> str | None:
    return None if row["att_id"] is None else f"{row['att_name']} ({row['att_size']:,} B)"


class TextTranscript:
    content_type = "text/plain; charset=utf-8"
    extension = "txt"

    def __init__(self, t):
        self.t = t

    def head(self, chat: dict, site_name: str) -> str:
        v = chat["visitor"]
        lines = [self.t("transcript.title", chat=chat["id"]),
                 f"{self.t('transcript.site')}: {site_name}",
                 f"{self.t('transcript.visitor_label')}: {v['name']}"
                 + (f" <{v['email']}>" if v["email"] else ""),
                 f"{self.t('transcript.started')}: {_when(chat['created'])}", "", ""]
        return "\n".join(lines)

    def message(self, row: dict, first: bool) -> str:
        out = f"[{_when(row['created_at'])}] {author_label(row, self.t)}:\n"
        if row["text"]:
            out += "  " + row["text"].replace("\n", "\n  ") + "\n"
        if (file := _attachment(row)) is not None:
            out += f"  [{self.t('transcript.attachment')}: {file}]\n"
        return out + "\n"

    def tail(self) -> str:
        return ""


class HtmlTranscript(TextTranscript):
    content_type = "text/html; charset=utf-8"
    extension = "html"

    def head(self, chat: dict, site_name: str) -> str:
        e, v = html.escape, chat["visitor"]
        title = e(self.t("transcript.title", chat=chat["id"]))
        rows = [(self.t("transcript.site"), site_name),
                (self.t("transcript.visitor_label"), v["name"]),
                (self.t("field.email"), v["email"] or "—"),
                (self.t("transcript.started"), _when(chat["created"]))]
        details = "".join(f"<dt>{e(k)}</dt><dd>{e(val)}</dd>" for k, val in rows)
        return (f'<!doctype html>\n<html lang="{e(self.t("transcript.lang"))}"><head>'
                f'<meta charset="utf-8"><meta name="referrer" content="no-referrer">'
                f"<title>{title}</title><style>{_STYLE}</style></head><body>"
                f"<h1>{title}</h1><dl>{details}</dl><ol>\n")

    def message(self, row: dict, first: bool) -> str:
        e = html.escape
        out = (f'<li class="{e(row["author_kind"])}"><span class="who">'
               f"{e(author_label(row, self.t))}</span>"
               f'<time class="when">{e(_when(row["created_at"]))}</time>')
        if row["text"]:
            out += f'<p class="text">{e(row["text"])}</p>'
        if (file := _attachment(row)) is not None:
            out += f'<p class="file">{e(self.t("transcript.attachment"))}: {e(file)}</p>'
        return out + "</li>\n"

    def tail(self) -> str:
        return "</ol></body></html>\n"


class JsonTranscript(TextTranscript):
    content_type = "application/json; charset=utf-8"
    extension = "json"

    def head(self, chat: dict, site_name: str) -> str:
        summary = {k: v for k, v in chat.items() if k != "created"}
        return ('{"chat": ' + json.dumps({**summary, "siteName": site_name}, ensure_ascii=False)
                + ', "messages": [\n')

    def message(self, row: dict, first: bool) -> str:
        return ("" if first else ",\n") + json.dumps(message_object(row), ensure_ascii=False)

    def tail(self) -> str:
        return "\n]}\n"


_FORMATTERS = {"txt": TextTranscript, "html": HtmlTranscript, "json": JsonTranscript}


def transcript_format(raw: str | None) -> str | None:
    """The asked format (txt when none), or None for one we do not make."""
    raw = raw or "txt"
    return raw if raw in FORMATS else None


async def stream_transcript(request: web.Request, user: User, chat_ref: str,
                            fmt: str) -> web.StreamResponse:
    """Check access (NotFound for a chat the user may not reach), then stream."""
    pool = request.app[keys.POOL]
    row = await chats.chat_for(pool, user, parse_id("c", chat_ref))
    site = await sites.site_for(pool, user, row["site_id"])
    chat = {**chat_summary(row), "created": row["created_at"]}
    formatter = _FORMATTERS[fmt](partial(translate, user.language))
    response = await start_download(
        request, f"chatiq-{chat['id']}.{formatter.extension}", formatter.content_type,
        **({"csp": HTML_CSP} if fmt == "html" else {}))
    try:
        await response.write(formatter.head(chat, site.name).encode())
        after, first = 0, True
        while True:
            page = await chats.messages_after(pool, row["id"], after, PAGE)
            if page:
                await response.write("".join(
                    formatter.message(m, first and i == 0) for i, m in enumerate(page)).encode())
                first, after = False, page[-1]["seq"]
            if len(page) < PAGE:
                break
        await response.write(formatter.tail().encode())
    except Exception as exc:
        return stream_failed(request, response, "transcript", exc)
    await response.write_eof()
    return response
