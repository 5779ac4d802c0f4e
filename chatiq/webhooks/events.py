"""Webhook events enqueued in the transaction that stores them: one outbox job per
(endpoint, event), so an event exists for receivers exactly when it exists at all.

The store calls the hook (an `EventHook`, see chatiq.store.chats) with the raw rows; this
module turns them into the event's JSON. Every message passes through here, so the
site's endpoints are cached briefly: a site without webhooks costs a dict lookup.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timezone

from chatiq.core.protocol import iso, make_id
from chatiq.core.security import new_token
from chatiq.store import outbox
from chatiq.store import webhooks as store
from chatiq.store.chats import chat_row_in
from chatiq.core.wire import chat_summary, message_object

# The events an endpoint may ask for, in the order the panel lists them.
EVENTS = ("chat.started", "message.created", "chat.closed", "visitor.identified")
# Sent only by the "send test event" button, whatever the endpoint asked for.
TEST_EVENT = "webhook.test"

# How stale another process's endpoint edits may be seen here (edits here apply at once).
CACHE_SECONDS = 5.0
# Cached sites beyond this make the next fill drop the expired entries.
CACHE_PRUNE_AT = 10_000
# A job becomes visible when the storing transaction commits, a moment after the hook
# runs: the worker is woken this much later (if the commit is slower, its poll finds it).
WAKE_DELAY_SECONDS = 0.05


class WebhookEvents:
    """The app's event hook: `await hook(cur, event, site_id, data)` inside a transaction."""

    def __init__(self, wake: Callable[[], None]):
        self._wake = wake  # tells the outbox worker to look now
        self._wake_pending = False
        # site id → (monotonic expiry, its enabled endpoints as {id, org_id, events})
        self._sites: dict[int, tuple[float, list[dict]]] = {}

    def forget(self, site_id: int) -> None:
        """An endpoint of the site changed here: read them afresh on its next event."""
        self._sites.pop(site_id, None)

    async def __call__(self, cur, event: str, site_id: int, data: dict) -> None:
        wanted = [e for e in await self._endpoints(cur, site_id) if event in e["events"]]
        if not wanted:
            return
        subject, created_at, body = await _BUILDERS[event](cur, data)
        for endpoint in wanted:
            await outbox.enqueue(
                cur, org_id=endpoint["org_id"], kind=store.KIND,
                key=f"wh:{endpoint['id']}:{event}:{subject}",
                payload=job_payload(endpoint["id"], event, site_id, created_at, body))
        self._wake_soon()

    async def _endpoints(self, cur, site_id: int) -> list[dict]:
        now = time.monotonic()
        cached = self._sites.get(site_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await store.subscribers(cur, site_id)
        if len(self._sites) >= CACHE_PRUNE_AT:
            self._sites = {k: v for k, v in self._sites.items() if v[0] > now}
        self._sites[site_id] = (now + CACHE_SECONDS, found)
        return found

    def _wake_soon(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            asyncio.get_running_loop().call_later(WAKE_DELAY_SECONDS, self._woken)

    def _woken(self) -> None:
        self._wake_pending = False
        self._wake()


def job_payload(endpoint_id: int, event: str, site_id: int, created_at: datetime,
                data: dict) -> dict:
    """What the outbox keeps for one delivery; the sender adds the delivery id and signs."""
    return {"endpoint": endpoint_id, "event": event, "siteId": make_id("s", site_id),
            "createdAt": iso(created_at), "data": data}


async def enqueue_test(pool, webhook: store.Webhook) -> int:
    """A `webhook.test` delivery to this endpoint, whatever events it asked for; a new one
    each time (the button may be pressed again). Returns the outbox job id."""
    data = {"webhookId": make_id("wh", webhook.id),
            "text": "A test event from ChatIQ: this endpoint is reachable."}
    job_id = await outbox.enqueue_now(
        pool, org_id=webhook.org_id, kind=store.KIND,
        key=f"wh:{webhook.id}:{TEST_EVENT}:{new_token(12)}",
        payload=job_payload(webhook.id, TEST_EVENT, webhook.site_id,
                            datetime.now(timezone.utc), data))
    assert job_id is not None  # a fresh random key is never a duplicate
    return job_id


# Each builder: (the store's data) → (what makes the event unique, when it happened, its
# JSON). The first goes into the dedupe key: the same event reported twice is one job.

async def _message_created(cur, data: dict):
    row = data["message"]
    return row["id"], row["created_at"], {"chatId": make_id("c", row["chat_id"]),
                                          "message": message_object(row)}



async def _chat_started(cur, data: dict):
    row = await chat_row_in(cur, data["chat_id"])
    return row["id"], row["created_at"], {"chat": chat_summary(row)}


async def _chat_closed(cur, data: dict):
    # A chat may close, reopen and close again: each close is its own event.
    row = await chat_row_in(cur, data["chat_id"])
    closed_at = row["closed_at"] or datetime.now(timezone.utc)
    return f"{row['id']}:{closed_at.timestamp():.6f}", closed_at, {"chat": chat_summary(row)}


async def _visitor_identified(cur, data: dict):
    """data (from store.visitors.join_verified): visitor (a Visitor), chat_id (their
    current chat or None), and `occurrence`, which tells this identification from another
    of the same visitor (their first, or an anonymous visitor of another device)."""
    visitor = data["visitor"]
    return (f"{visitor.id}:{data.get('occurrence', '')}", datetime.now(timezone.utc),
            {"visitor": {"id": make_id("v", visitor.id), "userId": visitor.external_id,
                         "name": visitor.name, "email": visitor.email},
             "chatId": make_id("c", data.get("chat_id"))})


_BUILDERS = {"message.created": _message_created, "chat.started": _chat_started,
             "chat.closed": _chat_closed, "visitor.identified": _visitor_identified}
