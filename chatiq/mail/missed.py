"""The missed-chat email: a visitor's message had no reply from the team in time.

The job is enqueued with the message (store/mail.ENQUEUE_MISSED, in the writer's batch), delayed by the site's
wait; here, when it falls due, it is sent only if nobody answered meanwhile. A restart
in between changes nothing: the job waits in the database.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from functools import partial

from chatiq.mail.context import Context
from chatiq.mail.messages import Letter, author, build, button, para
from chatiq.mail.strings import translate
from chatiq.core.protocol import make_id
from chatiq.store import chats
from chatiq.store import mail as store
from chatiq.store.outbox import Job

# Messages quoted in the email; the rest are a click away.
QUOTED = 10


async def letters(ctx: Context, job: Job) -> list[Letter]:
    chat_id, after = int(job.payload["chat"]), int(job.payload["after"])
    if await store.last_operator_seq(ctx.pool, chat_id) != after:
        return []  # answered in time, or the chat is gone
    chat = await chats.chat_row(ctx.pool, chat_id)
    recipients = await store.site_recipients(ctx.pool, chat["site_id"])
    if not recipients:
        return []
    waiting = await chats.messages_after(ctx.pool, chat_id, after, QUOTED + 1)
    _, site_name = await store.names(ctx.pool, chat["org_id"], chat["site_id"])
    first = waiting[0]["created_at"] if waiting else chat["created_at"]
    minutes = max(1, math.floor((datetime.now(timezone.utc) - first).total_seconds() / 60))
    by_language: dict[str, list[tuple[str, str]]] = {}
    for person in recipients:
        by_language.setdefault(person.language, []).append((person.name, person.email))
    reply_to = chat["visitor_email"] or None
    out = []
    for lang, to in sorted(by_language.items()):
        out.append(_letter(ctx, job, lang, to, chat, site_name or "", minutes,
                           waiting[:QUOTED], len(waiting) > QUOTED, reply_to))
    return out


def _letter(ctx: Context, job: Job, lang: str, to: list[tuple[str, str]], chat: dict,
            site: str, minutes: int, waiting: list[dict], more: bool,
            reply_to: str | None) -> Letter:
    t = partial(translate, lang)
    link = ctx.link(f"/admin/chats/{make_id('c', chat['id'])}")
    visitor = chat["visitor_name"] or t("mail.author.visitor", n=chat["visitor_id"])
    if chat["visitor_email"]:
        visitor += f" <{chat['visitor_email']}>"
    details = [(t("mail.missed.visitor"), visitor)]
    if chat["page_url"]:
        details.append((t("mail.missed.page"), chat["page_url"]))
    quoted = [(author(m, t), m["text"] or t("mail.missed.attachment")) for m in waiting]
    intro = t("mail.missed.intro", site=site, minutes=minutes)
    text_lines = [intro, ""] + [f"{k}: {v}" for k, v in details] + [""]
    text_lines += [f"{who}: {said}" for who, said in quoted]
    if more:
        text_lines.append(t("mail.missed.more"))
    text_lines += ["", f"{t('mail.missed.open')}: {link}"]
    body = para(intro) + "".join(
        para(f"{k}: {v}", "color:#4b5563;margin:0") for k, v in details)
    body += "".join(
        f'<blockquote style="margin:12px 0;padding:6px 12px;border-left:3px solid #e5e7eb">'
        f"<strong>{html.escape(who)}</strong>"
        f'<div style="white-space:pre-wrap">{html.escape(said)}</div></blockquote>'
        for who, said in quoted)
    if more:
        body += para(t("mail.missed.more"), "color:#6b7280")
    body += button(link, t("mail.missed.open"))
    return build(ctx.settings, org_name=ctx.org_name, key=job.dedupe_key, part=lang, lang=lang,
                 to=to, subject=t("mail.missed.subject", site=site), text="\n".join(text_lines),
                 body_html=body, reply_to=reply_to)
