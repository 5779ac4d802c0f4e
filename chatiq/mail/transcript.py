"""A visitor's email address (`visitor:email`) and the transcript they may ask for with it.

The widget asks for an address when a chat is closed (to mail the transcript) and when
nobody is there to answer (so the team can write back). The transcript is built when the
job is sent, from the database, so it holds the chat as it is then.
"""

from __future__ import annotations

import hashlib
import html
from datetime import timezone
from functools import partial

from chatiq.core import fanout

from chatiq import keys
from chatiq.core.ratelimit import RateLimit
from chatiq.mail.context import Context
from chatiq.mail.messages import Letter, author, build, para, valid_address
from chatiq.mail.strings import translate
from chatiq.outbox import wake
from chatiq.core.languages import language_of
from chatiq.core.protocol import ProtocolError
from chatiq.core.ratelimit import KeyedLimiter, whole_seconds
from chatiq.store import chats
from chatiq.store import mail as store
from chatiq.store.db import NotFound
from chatiq.store.outbox import Job

# Transcripts asked for per IP address: anyone can type any address into a widget, so the
# widget must not become a way to mail strangers. 5 at once, then one every 10 minutes.
TRANSCRIPTS_PER_IP = RateLimit(burst=5, per_second=1 / 600)
# The newest messages a transcript email holds; longer chats say the rest were left out.
MAX_MESSAGES = 500


def new_limiter() -> KeyedLimiter:
    return KeyedLimiter(TRANSCRIPTS_PER_IP)


async def visitor_email(conn, data: dict) -> dict:
    """`visitor:email` on a joined visitor socket: everything is checked before anything is
    stored, so a refused frame changes nothing."""
    email = data["email"]
    if not valid_address(email):
        raise ProtocolError("invalid", "'email' is not an email address", field="email")
    job = None
    # Without SMTP a transcript would wait in the outbox for ever: keep the address only.
    if data.get("transcript") and await store.mail_configured(conn.pool, conn.site.org_id):
        if conn.chat_id is None:
            raise NotFound("chat not found")
        limiter, ip = conn.app[keys.TRANSCRIPT_LIMITER], conn.request.remote or "?"
        if conn.config.rate_limits_enabled and not limiter.allow(ip):
            raise ProtocolError("rate_limited", "too many transcripts asked for, retry later",
                                retry_after=whole_seconds(limiter.retry_after(ip)))
        row = await chats.chat_row(conn.pool, conn.chat_id)
        # One transcript per chat state and address: asking twice sends one email.
        digest = hashlib.sha256(email.lower().encode()).hexdigest()[:16]
        job = {"org_id": row["org_id"], "kind": "email",
               "key": f"transcript:{row['id']}:{row['last_seq']}:{digest}",
               "payload": {"type": "transcript", "chat": row["id"], "to": email,
                           "lang": language_of(conn.visitor.language)}}
    queued = await store.save_visitor_email(conn.pool, visitor_id=conn.visitor.id, email=email,
                                            transcript=job)
    if queued:
        wake(conn.app)
    if conn.chat_id is not None:  # operators see the address at once
        fanout.chat_updated(conn.hub, await chats.chat_row(conn.pool, conn.chat_id))
    return {"email": email, "transcript": queued}


async def letters(ctx: Context, job: Job) -> list[Letter]:
    chat = await chats.chat_row(ctx.pool, int(job.payload["chat"]))
    if chat is None:
        return []  # erased since
    lang, to = job.payload["lang"], job.payload["to"]
    t = partial(translate, lang)
    rows = await chats.latest_messages(ctx.pool, chat["id"], MAX_MESSAGES + 1)
    truncated = len(rows) > MAX_MESSAGES
    rows = rows[-MAX_MESSAGES:]
    _, site = await store.names(ctx.pool, chat["org_id"], chat["site_id"])
    intro = t("mail.transcript.intro", site=site or "")
    lines = [intro, ""]
    body = para(intro)
    if truncated:
        lines += [t("mail.transcript.truncated", n=MAX_MESSAGES), ""]
        body += para(t("mail.transcript.truncated", n=MAX_MESSAGES), "color:#6b7280")
    lines += [_message_text(row, t) for row in rows]
    body += "".join(_message_html(row, t) for row in rows)
    return [build(ctx.settings, org_name=ctx.org_name, key=job.dedupe_key, lang=lang,
                  to=[("", to)], subject=t("mail.transcript.subject", site=site or ""),
                  text="\n".join(lines), body_html=body)]


def _when(row: dict) -> str:
    return row["created_at"].astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _message_text(row: dict, t) -> str:
    out = f"[{_when(row)}] {author(row, t)}:\n"
    if row["text"]:
        out += "  " + row["text"].replace("\n", "\n  ") + "\n"
    if row["att_id"] is not None:
        out += f"  [{t('mail.attachment')}: {row['att_name'] or ''}]\n"
    return out


def _message_html(row: dict, t) -> str:
    mine = row["author_kind"] == "visitor"
    parts = [f'<div style="margin:10px 0;padding:8px 12px;border-radius:8px;'
             f'background:{"#eef2ff" if mine else "#f3f4f6"}">'
             f"<strong>{html.escape(author(row, t))}</strong> "
             f'<span style="color:#6b7280;font-size:12px">'
             f"{html.escape(_when(row))}</span>"]
    if row["text"]:
        parts.append(f'<div style="white-space:pre-wrap">{html.escape(row["text"])}</div>')
    if row["att_id"] is not None:
        parts.append(f'<div style="color:#4b5563;font-style:italic">'
                     f'{html.escape(t("mail.attachment"))}: '
                     f'{html.escape(row["att_name"] or "")}</div>')
    parts.append("</div>")
    return "".join(parts)

