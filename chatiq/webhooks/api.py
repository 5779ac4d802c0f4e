"""REST handlers for webhook endpoints and their delivery logs: OWNERs only.

Another organization's sites, endpoints and deliveries are not_found; an OPERATOR is
forbidden (the secret signs every delivery, so only owners ever see it).
"""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.api.common import ApiError, pool, query_int, read_json, require_owner, require_user
from chatiq.outbox import wake
from chatiq.api.audit import record_request
from chatiq.core.protocol import Bool, List, Str, iso, make_id, parse_id
from chatiq.store import outbox, sites
from chatiq.store import webhooks as store
from chatiq.store.accounts import User
from chatiq.store.outbox import Job
from chatiq.webhooks import event_hook
from chatiq.webhooks.events import EVENTS, enqueue_test
from chatiq.webhooks.sender import DELIVERY_PREFIX
from chatiq.webhooks.ssrf import MAX_URL_LENGTH, UrlRefused, check_url

# Audit actions (chatiq.store.audit): who pointed a site's events where, and when.
CREATED, UPDATED, DELETED, SECRET_ROTATED = (
    "webhook.created", "webhook.updated", "webhook.deleted", "webhook.secret_rotated")

_EVENTS = List(Str(choices=set(EVENTS)), max_items=len(EVENTS))
WEBHOOK_CREATE = {"url": Str(required=True, max_len=MAX_URL_LENGTH, strip=True),
                  "events": _EVENTS, "enabled": Bool()}
WEBHOOK_PATCH = {"url": Str(max_len=MAX_URL_LENGTH, strip=True), "events": _EVENTS,
                 "enabled": Bool()}
RETRY = {"deliveryId": Str(required=True, max_len=64)}


def webhook_object(webhook: store.Webhook) -> dict:
    return {"id": make_id("wh", webhook.id), "siteId": make_id("s", webhook.site_id),
            "url": webhook.url, "events": list(webhook.events), "enabled": webhook.enabled,
            "secret": webhook.secret, "createdAt": iso(webhook.created_at),
            "secretRotatedAt": iso(webhook.secret_rotated_at)}


def delivery_object(job: Job, attempts: list[dict] | None = None) -> dict:
    out = {"id": make_id(DELIVERY_PREFIX, job.id), "event": job.payload.get("event"),
           "status": job.status, "attempts": job.attempts, "createdAt": iso(job.created_at),
           "nextAttemptAt": iso(job.next_attempt_at) if job.status == "pending" else None,
           "lastError": job.last_error}
    if attempts is not None:
        out["log"] = [{"attempt": a["attempt"], "at": iso(a["at"]), "ok": a["ok"],
                       "statusCode": a["status_code"], "error": a["error"],
                       "durationMs": a["duration_ms"]} for a in attempts]
    return out


async def clean_webhook(app: web.Application, url: str, events: list[str] | None) -> dict:
    """The checks beyond field types, shared with the panel: a URL webhooks may use and
    at least one known event (None: all of them), kept in EVENTS order."""
    try:
        url = await check_url(url, allow_private=app[keys.CONFIG].webhooks_allow_private)
    except UrlRefused as exc:
        raise ApiError("invalid", str(exc), field="url") from None
    if events is None:
        events = list(EVENTS)
    for n, event in enumerate(events):
        if event not in EVENTS:
            raise ApiError("invalid", f"'events[{n}]' must be one of: {', '.join(EVENTS)}",
                           field=f"events[{n}]")
    if not events:
        raise ApiError("invalid", "'events' must name at least one event", field="events")
    return {"url": url, "events": [e for e in EVENTS if e in events]}


def changed(app: web.Application, site_id: int) -> None:
    """This process's event hook reads the site's endpoints afresh (others within seconds)."""
    hook = event_hook(app)
    if hook is not None:
        hook.forget(site_id)


# --- what the API and the panel both do -------------------------------------------

async def add(request: web.Request, user: User, site_id: int, url: str,
              events: list[str] | None, enabled: bool) -> store.Webhook:
    fields = await clean_webhook(request.app, url, events)
    webhook = await store.create(pool(request), site_id=site_id, enabled=enabled, **fields)
    changed(request.app, site_id)
    await record_request(request, CREATED, user, target=make_id("wh", webhook.id),
                         details={"site": make_id("s", site_id), "url": webhook.url})
    return webhook


async def save(request: web.Request, user: User, webhook: store.Webhook, url: str,
               events: list[str], enabled: bool) -> store.Webhook:
    fields = await clean_webhook(request.app, url, events)
    updated = await store.update(pool(request), webhook.id, enabled=enabled, **fields)
    changed(request.app, webhook.site_id)
    if updated.url != webhook.url:
        await record_request(request, UPDATED, user, target=make_id("wh", webhook.id),
                             details={"url": updated.url})
    return updated


async def remove(request: web.Request, user: User, webhook: store.Webhook) -> None:
    await store.delete(pool(request), webhook.id)
    changed(request.app, webhook.site_id)
    await record_request(request, DELETED, user, target=make_id("wh", webhook.id),
                         details={"site": make_id("s", webhook.site_id), "url": webhook.url})


async def rotate(request: web.Request, user: User, webhook: store.Webhook) -> store.Webhook:
    webhook = await store.rotate_secret(pool(request), webhook.id)
    await record_request(request, SECRET_ROTATED, user, target=make_id("wh", webhook.id))
    return webhook


async def send_test_event(request: web.Request, webhook: store.Webhook) -> int:
    """Enqueue a webhook.test delivery now; Conflict for a disabled endpoint."""
    if not webhook.enabled:
        raise ApiError("conflict", "the webhook is disabled: enable it first")
    job_id = await enqueue_test(pool(request), webhook)
    wake(request.app)
    return job_id


async def retry(request: web.Request, webhook: store.Webhook, delivery_ref) -> int:
    """Deliver again now: a failed delivery, or one waiting for its next attempt."""
    job = await store.delivery_for(pool(request), webhook, parse_id(DELIVERY_PREFIX, delivery_ref))
    if not await outbox.retry_now(pool(request), job.id, webhook.org_id):
        raise ApiError("conflict", "this delivery was already delivered")
    wake(request.app)
    return job.id


# --- handlers ------------------------------------------------------------------------

async def _owned_site(request: web.Request):
    user = await require_user(request)
    site = await sites.site_for(pool(request), user, parse_id("s", request.match_info["id"]))
    require_owner(user)
    return user, site


async def _owned(request: web.Request) -> tuple[User, store.Webhook]:
    user = await require_user(request)
    webhook = await store.webhook_for(pool(request), user,
                                      parse_id("wh", request.match_info["id"]))
    require_owner(user)
    return user, webhook


async def list_webhooks(request: web.Request) -> web.Response:
    _, site = await _owned_site(request)
    found = await store.for_site(pool(request), site.id)
    return web.json_response({"webhooks": [webhook_object(w) for w in found]})


async def create_webhook(request: web.Request) -> web.Response:
    user, site = await _owned_site(request)
    body = await read_json(request, WEBHOOK_CREATE)
    webhook = await add(request, user, site.id, body["url"], body.get("events"),
                        body.get("enabled", True))
    return web.json_response({"webhook": webhook_object(webhook)}, status=201)


async def get_webhook(request: web.Request) -> web.Response:
    _, webhook = await _owned(request)
    return web.json_response({"webhook": webhook_object(webhook)})


async def patch_webhook(request: web.Request) -> web.Response:
    user, webhook = await _owned(request)
    body = await read_json(request, WEBHOOK_PATCH)
    updated = await save(request, user, webhook, body.get("url", webhook.url),
                         body.get("events", webhook.events), body.get("enabled", webhook.enabled))
    return web.json_response({"webhook": webhook_object(updated)})


async def delete_webhook(request: web.Request) -> web.Response:
    user, webhook = await _owned(request)
    await remove(request, user, webhook)
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    user, webhook = await _owned(request)
    return web.json_response({"webhook": webhook_object(await rotate(request, user, webhook))})


async def send_test(request: web.Request) -> web.Response:
    _, webhook = await _owned(request)
    job_id = await send_test_event(request, webhook)
    return web.json_response({"delivery": await _delivery(request, webhook, job_id)},
                             status=202)


async def list_deliveries(request: web.Request) -> web.Response:
    _, webhook = await _owned(request)
    limit = query_int(request, "limit", 50, minimum=1, maximum=200)
    found = await store.deliveries(pool(request), webhook, limit=limit)
    return web.json_response({"deliveries": [delivery_object(j, a) for j, a in found]})


async def retry_delivery(request: web.Request) -> web.Response:
    _, webhook = await _owned(request)
    body = await read_json(request, RETRY)
    job_id = await retry(request, webhook, body["deliveryId"])
    return web.json_response({"delivery": await _delivery(request, webhook, job_id)})


async def _delivery(request: web.Request, webhook: store.Webhook, job_id: int) -> dict:
    job = await store.delivery_for(pool(request), webhook, job_id)
    return delivery_object(job, await outbox.attempts(pool(request), job_id))
