"""Email's SQL: an organization's SMTP settings, the missed-chat timer per site (a delayed
outbox job enqueued with the message), who hears of a site's chats, password resets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chatiq.core.security import token_hash
from chatiq.store import db, outbox
from chatiq.store.accounts import store_password


@dataclass(frozen=True)
class MailSettings:
    org_id: int
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str
    password_enc: str | None
    from_email: str
    from_name: str
    base_url: str
    updated_at: datetime


_SETTINGS_COLUMNS = ("org_id, host, port, security, username, password_enc, from_email,"
                     " from_name, base_url, updated_at")


async def settings_for(pool, org_id: int) -> MailSettings | None:
    row = await db.fetchone(
        pool, f"SELECT {_SETTINGS_COLUMNS} FROM mail_settings WHERE org_id = %(org)s",
        {"org": org_id})
    return None if row is None else MailSettings(**row)


async def mail_configured(pool, org_id: int | None = None) -> bool:
    """Can the organization (or, with None, any organization on this server) send email?"""
    row = await db.fetchone(
        pool, "SELECT EXISTS (SELECT 1 FROM mail_settings"
              " WHERE %(org)s::bigint IS NULL OR org_id = %(org)s) AS yes", {"org": org_id})
    return bool(row["yes"])


async def save_settings(pool, org_id: int, *, host: str, port: int, security: str,
                        username: str, password_enc: str | None, keep_password: bool,
                        from_email: str, from_name: str, base_url: str) -> MailSettings:
    """Create or replace the settings; `keep_password` leaves the stored one as it is
    (the form never shows it, so an empty field means "unchanged")."""
    row = await db.fetchone(
        pool,
        "INSERT INTO mail_settings AS ms (org_id, host, port, security, username, password_enc,"
        "                                 from_email, from_name, base_url)"
        " VALUES (%(org)s, %(host)s, %(port)s, %(sec)s, %(user)s, %(pw)s, %(from)s, %(name)s,"
        "         %(base)s)"
        " ON CONFLICT (org_id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,"
        "   security = EXCLUDED.security, username = EXCLUDED.username,"
        "   password_enc = CASE WHEN %(keep)s THEN ms.password_enc"
        "                       ELSE EXCLUDED.password_enc END,"
        "   from_email = EXCLUDED.from_email, from_name = EXCLUDED.from_name,"
        "   base_url = EXCLUDED.base_url, updated_at = now()"
        f" RETURNING {_SETTINGS_COLUMNS}",
        {"org": org_id, "host": host, "port": port, "sec": security, "user": username,
         "pw": password_enc, "keep": keep_password, "from": from_email, "name": from_name,
         "base": base_url})
    return MailSettings(**row)


async def delete_settings(pool, org_id: int) -> bool:
    row = await db.fetchone(
        pool, "DELETE FROM mail_settings WHERE org_id = %(org)s RETURNING org_id",
        {"org": org_id})
    return row is not None


# --- missed chats -----------------------------------------------------------------

async def missed_chat_seconds(pool, site_id: int) -> int:
    row = await db.fetchone(pool, "SELECT missed_chat_seconds AS s FROM sites WHERE id = %(id)s",
                            {"id": site_id})
    if row is None:
        raise db.NotFound("site not found")
    return row["s"]


async def set_missed_chat_seconds(pool, site_id: int, seconds: int) -> None:
    await db.fetchone(pool, "UPDATE sites SET missed_chat_seconds = %(s)s WHERE id = %(id)s"
                            " RETURNING id", {"s": seconds, "id": site_id})


async def sites_missed_chat(pool, org_id: int) -> list[dict]:
    """Every site of the organization with its missed-chat wait, for the settings page."""
    return await db.fetchall(
        pool, "SELECT id, name, missed_chat_seconds FROM sites WHERE org_id = %(org)s"
              " ORDER BY id", {"org": org_id})


# One statement per stored batch, inside its transaction, so the timer exists exactly when
# the message does. The key names the team's last reply before the visitor wrote: every
# message until the next reply maps to the same job (ON CONFLICT), so the wait runs from
# the first unanswered one. Organizations without SMTP settings enqueue nothing.
# Also sent by the writer, in its batch's last round trip (store/writer.py).
ENQUEUE_MISSED = """
INSERT INTO outbox (org_id, kind, dedupe_key, payload, next_attempt_at)
SELECT s.org_id, 'email', 'missed:' || c.id || ':' || op.seq,
       jsonb_build_object('type', 'missed', 'chat', c.id, 'after', op.seq),
       now() + make_interval(secs => s.missed_chat_seconds)
  FROM chats c JOIN sites s ON s.id = c.site_id
  CROSS JOIN LATERAL (SELECT coalesce((SELECT m.seq FROM messages m
                                        WHERE m.chat_id = c.id AND m.author_kind = 'operator'
                                        ORDER BY m.seq DESC LIMIT 1), 0) AS seq) op
 WHERE c.id = ANY(%(chats)s) AND s.missed_chat_seconds > 0
   AND EXISTS (SELECT 1 FROM mail_settings ms WHERE ms.org_id = s.org_id)
ON CONFLICT (kind, dedupe_key) DO NOTHING
"""


async def last_operator_seq(pool, chat_id: int) -> int | None:
    """The seq of the team's newest reply (0: none yet); None when the chat is gone."""
    row = await db.fetchone(
        pool, "SELECT coalesce((SELECT m.seq FROM messages m WHERE m.chat_id = c.id"
              "   AND m.author_kind = 'operator' ORDER BY m.seq DESC LIMIT 1), 0) AS seq"
              " FROM chats c WHERE c.id = %(c)s", {"c": chat_id})
    return None if row is None else row["seq"]


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    language: str


async def site_recipients(pool, site_id: int) -> list[Recipient]:
    """Everyone who works on the site and can sign in: its OWNERs and assigned OPERATORs."""
    rows = await db.fetchall(
        pool,
        "SELECT u.email, u.name, u.language FROM users u JOIN sites s ON s.org_id = u.org_id"
        " WHERE s.id = %(site)s AND u.password_hash IS NOT NULL AND (u.role = 'OWNER'"
        "   OR EXISTS (SELECT 1 FROM site_operators so WHERE so.site_id = s.id"
        "              AND so.user_id = u.id)) ORDER BY u.id", {"site": site_id})
    return [Recipient(**r) for r in rows]


# --- password resets ----------------------------------------------------------------

@dataclass(frozen=True)
class Reset:
    id: int
    user_id: int
    email: str
    expires_at: datetime


async def create_reset(pool, user_id: int, token: str, *, ttl_seconds: int) -> None:
    """A new link for the user; links asked for earlier stop working."""
    async with db.transaction(pool) as cur:
        await cur.execute("UPDATE password_resets SET used_at = now() WHERE user_id = %(u)s"
                          " AND used_at IS NULL", {"u": user_id})
        await cur.execute(
            "INSERT INTO password_resets (user_id, token_hash, expires_at)"
            " VALUES (%(u)s, %(h)s, now() + make_interval(secs => %(ttl)s))",
            {"u": user_id, "h": token_hash(token), "ttl": ttl_seconds})


async def open_reset(pool, token: str) -> Reset | None:
    """The unused, unexpired reset behind a link's token, if any."""
    row = await db.fetchone(
        pool,
        "SELECT r.id, r.user_id, u.email, r.expires_at FROM password_resets r"
        " JOIN users u ON u.id = r.user_id WHERE r.token_hash = %(h)s AND r.used_at IS NULL"
        " AND r.expires_at > now() AND u.password_hash IS NOT NULL", {"h": token_hash(token)})
    return None if row is None else Reset(**row)


async def use_reset(pool, reset_id: int, password_hash: str) -> int | None:
    """Spend the link and set the password, once; every session and token of the user
    ends (token_version). The user's id, or None if the link was used meanwhile."""
    async with db.transaction(pool) as cur:
        await cur.execute(
            "UPDATE password_resets SET used_at = now() WHERE id = %(i)s AND used_at IS NULL"
            " AND expires_at > now() RETURNING user_id", {"i": reset_id})
        row = await cur.fetchone()
        if row is None:
            return None
        await store_password(cur, row["user_id"], password_hash)
        return row["user_id"]


async def names(pool, org_id: int, site_id: int | None = None) -> tuple[str, str | None]:
    """The organization's name and (given one of its sites) the site's, for emails."""
    row = await db.fetchone(
        pool, "SELECT o.name AS org, (SELECT s.name FROM sites s WHERE s.id = %(site)s"
              "   AND s.org_id = o.id) AS site FROM organizations o WHERE o.id = %(org)s",
        {"org": org_id, "site": site_id})
    return (row["org"], row["site"]) if row else ("", None)


# --- visitors' own address ------------------------------------------------------------

async def save_visitor_email(pool, *, visitor_id: int, email: str,
                             transcript: dict | None = None) -> bool:
    """Keep the address a visitor gave and, with `transcript` (an outbox job's fields),
    queue their transcript in the same transaction. True when a transcript is (or was
    already) on its way; False without one asked for, or without SMTP settings."""
    async with db.transaction(pool) as cur:
        await cur.execute("UPDATE visitors SET email = %(e)s WHERE id = %(v)s",
                          {"e": email, "v": visitor_id})
        if transcript is None:
            return False
        await cur.execute("SELECT 1 AS x FROM mail_settings WHERE org_id = %(org)s",
                          {"org": transcript["org_id"]})
        if await cur.fetchone() is None:
            return False
        await outbox.enqueue(cur, **transcript)
        return True
