"""Webhook endpoints (webhooks table) and their deliveries, which are the outbox's jobs of
kind 'webhook' whose payload names the endpoint."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from chatiq.store import db, outbox
from chatiq.store.accounts import User
from chatiq.store.outbox import Job

# The outbox kind webhook deliveries are enqueued as.
KIND = "webhook"
# Endpoints one site may have: each event becomes one job per endpoint.
MAX_PER_SITE = 10


@dataclass(frozen=True)
class Webhook:
    id: int
    site_id: int
    org_id: int
    url: str
    secret: str
    events: list[str]
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime


def new_secret() -> str:
    """256 random bits, prefixed so a leaked one is recognisable in a scan."""
    return "whsec_" + secrets.token_hex(32)


_COLUMNS = ("w.id, w.site_id, s.org_id, w.url, w.secret, w.events, w.enabled, w.created_at,"
            " w.secret_rotated_at")
_FROM = " FROM webhooks w JOIN sites s ON s.id = w.site_id"
# The endpoints a user may reach: their organization's, on sites they may see (an OPERATOR
# reaches them only to be told they may not change them).
_ACCESS = (" s.org_id = %(org)s AND (%(owner)s OR EXISTS (SELECT 1 FROM site_operators so"
           " WHERE so.site_id = s.id AND so.user_id = %(uid)s))")


async def create(pool, *, site_id: int, url: str, events: list[str], enabled: bool) -> Webhook:
    """A new endpoint with a fresh secret; Conflict when the site has MAX_PER_SITE already."""
    async with db.transaction(pool) as cur:
        # The site's row lock: two creations at once cannot both squeeze under the cap.
        await cur.execute("SELECT id FROM sites WHERE id = %(s)s FOR UPDATE", {"s": site_id})
        if await cur.fetchone() is None:
            raise db.NotFound("site not found")
        await cur.execute("SELECT count(*) AS n FROM webhooks WHERE site_id = %(s)s",
                          {"s": site_id})
        if (await cur.fetchone())["n"] >= MAX_PER_SITE:
            raise db.Conflict(f"a site may have at most {MAX_PER_SITE} webhooks")
        await cur.execute(
            "INSERT INTO webhooks (site_id, url, secret, events, enabled)"
            " VALUES (%(s)s, %(url)s, %(secret)s, %(events)s, %(enabled)s) RETURNING id",
            {"s": site_id, "url": url, "secret": new_secret(), "events": events,
             "enabled": enabled})
        new_id = (await cur.fetchone())["id"]
        await cur.execute("SELECT " + _COLUMNS + _FROM + " WHERE w.id = %(id)s", {"id": new_id})
        return Webhook(**await cur.fetchone())


async def for_site(pool, site_id: int) -> list[Webhook]:
    rows = await db.fetchall(pool, "SELECT " + _COLUMNS + _FROM +
                             " WHERE w.site_id = %(s)s ORDER BY w.id", {"s": site_id})
    return [Webhook(**r) for r in rows]


async def webhook_for(pool, user: User, webhook_id: int | None) -> Webhook:
    """An endpoint the user may reach, or NotFound (the same answer for another tenant's)."""
    row = None
    if webhook_id is not None:
        row = await db.fetchone(
            pool, "SELECT " + _COLUMNS + _FROM + " WHERE w.id = %(id)s AND" + _ACCESS,
            {"id": webhook_id, "org": user.org_id, "owner": user.is_owner, "uid": user.id})
    if row is None:
        raise db.NotFound("webhook not found")
    return Webhook(**row)


async def by_id(pool, webhook_id: int) -> Webhook | None:
    row = await db.fetchone(pool, "SELECT " + _COLUMNS + _FROM + " WHERE w.id = %(id)s",
                            {"id": webhook_id})
    return None if row is None else Webhook(**row)


async def update(pool, webhook_id: int, *, url: str, events: list[str],
                 enabled: bool) -> Webhook:
    async with db.transaction(pool) as cur:
        await cur.execute(
            "UPDATE webhooks SET url = %(url)s, events = %(events)s, enabled = %(enabled)s"
            " WHERE id = %(id)s RETURNING id",
            {"id": webhook_id, "url": url, "events": events, "enabled": enabled})
        if await cur.fetchone() is None:
            raise db.NotFound("webhook not found")
        await cur.execute("SELECT " + _COLUMNS + _FROM + " WHERE w.id = %(id)s",
                          {"id": webhook_id})
        return Webhook(**await cur.fetchone())


async def rotate_secret(pool, webhook_id: int) -> Webhook:
    """A new secret; deliveries from now on (retries included) are signed with it."""
    async with db.transaction(pool) as cur:
        await cur.execute(
            "UPDATE webhooks SET secret = %(secret)s, secret_rotated_at = now()"
            " WHERE id = %(id)s RETURNING id", {"id": webhook_id, "secret": new_secret()})
        if await cur.fetchone() is None:
            raise db.NotFound("webhook not found")
        await cur.execute("SELECT " + _COLUMNS + _FROM + " WHERE w.id = %(id)s",
                          {"id": webhook_id})
        return Webhook(**await cur.fetchone())


async def delete(pool, webhook_id: int) -> None:
    """The endpoint and its deliveries: nothing waiting is sent to it any more."""
    async with db.transaction(pool) as cur:
        await cur.execute("DELETE FROM outbox WHERE kind = %(kind)s AND payload @> %(p)s::jsonb",
                          {"kind": KIND, "p": json.dumps({"endpoint": webhook_id})})
        await cur.execute("DELETE FROM webhooks WHERE id = %(id)s", {"id": webhook_id})


async def subscribers(cur, site_id: int) -> list[dict]:
    """The site's enabled endpoints as {id, org_id, events}, read in the caller's
    transaction (the event hook's cache fills from here)."""
    await cur.execute(
        "SELECT w.id, s.org_id, w.events" + _FROM +
        " WHERE w.site_id = %(s)s AND w.enabled ORDER BY w.id", {"s": site_id})
    return await cur.fetchall()


# --- deliveries ------------------------------------------------------------------

async def deliveries(pool, webhook: Webhook, *, limit: int = 50) -> list[tuple[Job, list[dict]]]:
    """The endpoint's newest deliveries, each with its attempts oldest first."""
    jobs = await outbox.jobs(pool, org_id=webhook.org_id, kind=KIND, limit=limit,
                             payload_filter={"endpoint": webhook.id})
    attempts: dict[int, list[dict]] = {job.id: [] for job in jobs}
    if jobs:
        for row in await db.fetchall(
                pool, "SELECT outbox_id, attempt, at, ok, status_code, error, duration_ms"
                      " FROM outbox_attempts WHERE outbox_id = ANY(%(ids)s) ORDER BY id",
                {"ids": list(attempts)}):
            attempts[row.pop("outbox_id")].append(row)
    return [(job, attempts[job.id]) for job in jobs]


async def delivery_for(pool, webhook: Webhook, job_id: int | None) -> Job:
    """One delivery of this endpoint, or NotFound (another endpoint's too)."""
    row = None
    if job_id is not None:
        row = await db.fetchone(
            pool, "SELECT id, org_id, kind, dedupe_key, payload, attempts, status, created_at,"
                  " next_attempt_at, last_error FROM outbox WHERE id = %(id)s"
                  " AND org_id = %(org)s AND kind = %(kind)s AND payload @> %(p)s::jsonb",
            {"id": job_id, "org": webhook.org_id, "kind": KIND,
             "p": json.dumps({"endpoint": webhook.id})})
    if row is None:
        raise db.NotFound("delivery not found")
    return Job(**row)
