"""Business hours, auto-reply rules, their timers and once-only firing, quick templates.

Firing is one transaction: take the timer (if any), mark the occurrence fired under a
unique key, store the bot message. A second attempt finds the mark and stores nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import psycopg2

from chatiq.store import db
from chatiq.store.accounts import User


# --- business hours and per-site automation settings --------------------------

async def hours_row(pool, site_id: int) -> dict | None:
    return await db.fetchone(
        pool, "SELECT site_id, enabled, timezone, schedule, exceptions FROM business_hours"
              " WHERE site_id = %(s)s", {"s": site_id})


async def enabled_hours_rows(pool) -> list[dict]:
    """Every site whose hours are switched on: the engine's timers start from these."""
    return await db.fetchall(
        pool, "SELECT site_id, enabled, timezone, schedule, exceptions FROM business_hours"
              " WHERE enabled")


async def save_hours(pool, site_id: int, hours: dict) -> dict:
    return await db.fetchone(
        pool,
        "INSERT INTO business_hours (site_id, enabled, timezone, schedule, exceptions)"
        " VALUES (%(s)s, %(e)s, %(tz)s, %(sch)s::jsonb, %(exc)s::jsonb)"
        " ON CONFLICT (site_id) DO UPDATE SET enabled = EXCLUDED.enabled,"
        " timezone = EXCLUDED.timezone, schedule = EXCLUDED.schedule,"
        " exceptions = EXCLUDED.exceptions, updated_at = now()"
        " RETURNING site_id, enabled, timezone, schedule, exceptions",
        {"s": site_id, "e": hours["enabled"], "tz": hours["timezone"],
         "sch": json.dumps(hours["schedule"]), "exc": json.dumps(hours["exceptions"])})


async def store_greeting(pool, site_id: int) -> bool:
    row = await db.fetchone(
        pool, "SELECT store_greeting FROM automation_settings WHERE site_id = %(s)s",
        {"s": site_id})
    return bool(row and row["store_greeting"])


async def set_store_greeting(pool, site_id: int, value: bool) -> None:
    await db.fetchone(
        pool,
        "INSERT INTO automation_settings (site_id, store_greeting) VALUES (%(s)s, %(v)s)"
        " ON CONFLICT (site_id) DO UPDATE SET store_greeting = EXCLUDED.store_greeting,"
        " updated_at = now() RETURNING site_id", {"s": site_id, "v": value})


# --- rules ---------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    id: int
    site_id: int
    trigger: str
    keyword: str | None
    delay_seconds: int
    text: str
    enabled: bool
    created_at: datetime
    # language → text, for visitors in that language; `text` for the rest
    texts: dict

    def matches(self, text: str) -> bool:
        """The keyword, when the rule has one, appears in the text (case-insensitive)."""
        return not self.keyword or self.keyword.casefold() in (text or "").casefold()


_RULE_COLUMNS = "id, site_id, trigger, keyword, delay_seconds, text, enabled, created_at, texts"


async def rules_for_site(pool, site_id: int, *, enabled_only: bool = False) -> list[Rule]:
    rows = await db.fetchall(
        pool, "SELECT " + _RULE_COLUMNS + " FROM auto_replies WHERE site_id = %(s)s"
              " AND (enabled OR NOT %(only)s) ORDER BY id", {"s": site_id, "only": enabled_only})
    return [Rule(**r) for r in rows]


async def rule_by_id(pool, rule_id: int | None) -> Rule:
    """A rule by id, or NotFound; the caller checks the user may reach its site."""
    row = None if rule_id is None else await db.fetchone(
        pool, "SELECT " + _RULE_COLUMNS + " FROM auto_replies WHERE id = %(id)s", {"id": rule_id})
    if row is None:
        raise db.NotFound("auto-reply not found")
    return Rule(**row)


async def create_rule(pool, site_id: int, fields: dict) -> Rule:
    row = await db.fetchone(
        pool,
        "INSERT INTO auto_replies (site_id, trigger, keyword, delay_seconds, text, enabled, texts)"
        " VALUES (%(s)s, %(trigger)s, %(keyword)s, %(delay_seconds)s, %(text)s, %(enabled)s,"
        " %(texts)s::jsonb) RETURNING " + _RULE_COLUMNS,
        {"s": site_id, **fields, "texts": json.dumps(fields.get("texts") or {})})
    return Rule(**row)


async def update_rule(pool, rule_id: int, fields: dict) -> Rule:
    """Write every column from `fields` (the caller merged the changes into the rule)."""
    row = await db.fetchone(
        pool,
        "UPDATE auto_replies SET trigger = %(trigger)s, keyword = %(keyword)s,"
        " delay_seconds = %(delay_seconds)s, text = %(text)s, enabled = %(enabled)s,"
        " texts = %(texts)s::jsonb WHERE id = %(id)s RETURNING " + _RULE_COLUMNS,
        {"id": rule_id, **fields, "texts": json.dumps(fields.get("texts") or {})})
    if row is None:
        raise db.NotFound("auto-reply not found")
    return Rule(**row)


async def delete_rule(pool, rule_id: int) -> None:
    await db.fetchone(pool, "DELETE FROM auto_replies WHERE id = %(id)s RETURNING id",
                      {"id": rule_id})


# --- timers and once-only firing -----------------------------------------------

@dataclass(frozen=True)
class PendingTimer:
    rule_id: int
    chat_id: int
    site_id: int
    occurrence: str
    operator_seq: int
    due_at: datetime


async def last_operator_seq(pool, chat_id: int) -> int:
    """The seq of the team's newest reply in the chat, 0 when nobody answered yet."""
    row = await db.fetchone(
        pool, "SELECT coalesce(max(seq), 0) AS seq FROM messages WHERE chat_id = %(c)s"
              " AND author_kind = 'operator'", {"c": chat_id})
    return row["seq"]


async def already_fired(pool, rule_id: int, chat_id: int, occurrence: str) -> bool:
    row = await db.fetchone(
        pool, "SELECT 1 AS x FROM auto_reply_fired WHERE rule_id = %(r)s AND chat_id = %(c)s"
              " AND occurrence = %(o)s", {"r": rule_id, "c": chat_id, "o": occurrence})
    return row is not None


async def add_timer(pool, *, rule_id: int, chat_id: int, occurrence: str, operator_seq: int,
                    due_at: datetime) -> bool:
    """Start waiting; False when this rule already waits in this chat (the first wins)."""
    row = await db.fetchone(
        pool,
        "INSERT INTO auto_reply_timers (rule_id, chat_id, occurrence, operator_seq, due_at)"
        " VALUES (%(r)s, %(c)s, %(o)s, %(op)s, %(due)s)"
        " ON CONFLICT (rule_id, chat_id) DO NOTHING RETURNING rule_id",
        {"r": rule_id, "c": chat_id, "o": occurrence, "op": operator_seq, "due": due_at})
    return row is not None


async def pending_timers(pool) -> list[PendingTimer]:
    rows = await db.fetchall(
        pool, "SELECT t.rule_id, t.chat_id, c.site_id, t.occurrence, t.operator_seq, t.due_at"
              " FROM auto_reply_timers t JOIN chats c ON c.id = t.chat_id ORDER BY t.due_at")
    return [PendingTimer(**r) for r in rows]


async def drop_chat_timers(pool, chat_id: int) -> list[int]:
    """An operator answered: nothing waiting in this chat is due any more."""
    rows = await db.fetchall(
        pool, "DELETE FROM auto_reply_timers WHERE chat_id = %(c)s RETURNING rule_id",
        {"c": chat_id})
    return [r["rule_id"] for r in rows]


class AutoReplyDue:
    """The writer's guard for an auto-reply (store/writer.Guard): stored once per occurrence,
    and only while still due. Checked inside the writer's transaction, so the once-only mark
    and the message commit together or not at all.

    `rule_id` None is the welcome message with the given text; otherwise the rule's current
    text is used and the rule must still be enabled. With `timer_operator_seq` the pending
    timer is taken first, and an operator reply since then cancels it.
    """

    def __init__(self, *, chat_id: int, occurrence: str, rule_id: int | None = None,
                 text: str | None = None, timer_operator_seq: int | None = None):
        self.chat_id, self.occurrence, self.rule_id = chat_id, occurrence, rule_id
        self.text, self.timer_operator_seq = text, timer_operator_seq
        self._mark: int | None = None  # the auto_reply_fired row this occurrence took

    async def check(self, cur) -> str | None:
        params = {"r": self.rule_id, "c": self.chat_id, "o": self.occurrence}
        if self.timer_operator_seq is not None:
            await cur.execute(
                "DELETE FROM auto_reply_timers WHERE rule_id = %(r)s AND chat_id = %(c)s"
                " AND occurrence = %(o)s RETURNING rule_id", params)
            if await cur.fetchone() is None:
                return None  # answered, fired elsewhere, or the rule was deleted
        # The chat row lock orders us with writers of this chat (and a closing operator).
        await cur.execute("SELECT status FROM chats WHERE id = %(c)s FOR UPDATE", params)
        chat = await cur.fetchone()
        if chat is None or chat["status"] == "closed":
            return None
        if self.timer_operator_seq is not None:
            await cur.execute(
                "SELECT coalesce(max(seq), 0) AS seq FROM messages WHERE chat_id = %(c)s"
                " AND author_kind = 'operator'", params)
            if (await cur.fetchone())["seq"] != self.timer_operator_seq:
                return None
        text = self.text
        if self.rule_id is not None:
            await cur.execute(  # in the visitor's language when the rule has it (issue 21)
                "SELECT coalesce(nullif(r.texts ->> CASE WHEN v.language ILIKE 'uk%%' THEN 'uk'"
                " ELSE 'en' END, ''), r.text) AS text, r.enabled FROM auto_replies r, chats c"
                " JOIN visitors v ON v.id = c.visitor_id WHERE r.id = %(r)s AND c.id = %(c)s",
                params)
            rule = await cur.fetchone()
            if rule is None or not rule["enabled"]:
                return None
            text = rule["text"]
            await cur.execute(
                "INSERT INTO auto_reply_fired (rule_id, chat_id, occurrence)"
                " VALUES (%(r)s, %(c)s, %(o)s) ON CONFLICT (rule_id, chat_id, occurrence)"
                " WHERE rule_id IS NOT NULL DO NOTHING RETURNING id", params)
        else:
            await cur.execute(
                "INSERT INTO auto_reply_fired (rule_id, chat_id, occurrence)"
                " VALUES (NULL, %(c)s, %(o)s) ON CONFLICT (chat_id) WHERE rule_id IS NULL"
                " DO NOTHING RETURNING id", params)
        mark = await cur.fetchone()
        if mark is None:
            return None
        self._mark = mark["id"]
        return text

    async def stored(self, cur, message: dict) -> None:
        await cur.execute("UPDATE auto_reply_fired SET message_id = %(m)s WHERE id = %(id)s",
                          {"m": message["id"], "id": self._mark})


# --- quick templates -------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    id: int
    org_id: int
    site_id: int | None
    shortcut: str
    title: str
    text: str
    created_at: datetime


_TEMPLATE_COLUMNS = "t.id, t.org_id, t.site_id, t.shortcut, t.title, t.text, t.created_at"
# Organization-wide templates, and site ones on sites the user may reach.
_TEMPLATE_ACCESS = (
    "t.org_id = %(org)s AND (t.site_id IS NULL OR %(owner)s OR EXISTS ("
    " SELECT 1 FROM site_operators so WHERE so.site_id = t.site_id AND so.user_id = %(uid)s))")


def _access(user: User) -> dict:
    return {"org": user.org_id, "owner": user.is_owner, "uid": user.id}


async def templates_for(pool, user: User, site_id: int | None = None) -> list[Template]:
    """The user's templates; with `site_id`, those for every site plus that site's."""
    rows = await db.fetchall(
        pool, "SELECT " + _TEMPLATE_COLUMNS + " FROM quick_templates t WHERE " + _TEMPLATE_ACCESS
              + " AND (%(site)s::bigint IS NULL OR t.site_id IS NULL OR t.site_id = %(site)s)"
              " ORDER BY lower(t.shortcut)", {**_access(user), "site": site_id})
    return [Template(**r) for r in rows]


async def template_for(pool, user: User, template_id: int | None) -> Template:
    row = None if template_id is None else await db.fetchone(
        pool, "SELECT " + _TEMPLATE_COLUMNS + " FROM quick_templates t WHERE t.id = %(id)s AND "
              + _TEMPLATE_ACCESS, {"id": template_id, **_access(user)})
    if row is None:
        raise db.NotFound("template not found")
    return Template(**row)


async def create_template(pool, *, org_id: int, site_id: int | None, shortcut: str, title: str,
                          text: str) -> Template:
    try:
        row = await db.fetchone(
            pool,
            "INSERT INTO quick_templates AS t (org_id, site_id, shortcut, title, text)"
            " VALUES (%(org)s, %(site)s, %(sc)s, %(title)s, %(text)s)"
            " RETURNING " + _TEMPLATE_COLUMNS,
            {"org": org_id, "site": site_id, "sc": shortcut, "title": title, "text": text})
    except psycopg2.errors.UniqueViolation:
        raise db.Conflict("a template with this shortcut already exists") from None
    return Template(**row)


async def update_template(pool, template_id: int, *, site_id: int | None, shortcut: str,
                          title: str, text: str) -> Template:
    try:
        row = await db.fetchone(
            pool,
            "UPDATE quick_templates AS t SET site_id = %(site)s, shortcut = %(sc)s,"
            " title = %(title)s, text = %(text)s WHERE t.id = %(id)s"
            " RETURNING " + _TEMPLATE_COLUMNS,
            {"id": template_id, "site": site_id, "sc": shortcut, "title": title, "text": text})
    except psycopg2.errors.UniqueViolation:
        raise db.Conflict("a template with this shortcut already exists") from None
    if row is None:
        raise db.NotFound("template not found")
    return Template(**row)


async def delete_template(pool, template_id: int) -> None:
    await db.fetchone(pool, "DELETE FROM quick_templates WHERE id = %(id)s RETURNING id",
                      {"id": template_id})
