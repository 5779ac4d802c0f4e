"""Panel pages for a site's webhooks and each endpoint's delivery log: OWNERs only.

The same checks as the REST API (api.py's shared actions); POSTs pass the panel's CSRF
guard; another organization's sites, endpoints and deliveries are not found.
"""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.api.common import ApiError
from chatiq.panel import i18n
from chatiq.panel.access import require_owner
from chatiq.panel.forms import form_error
from chatiq.panel.render import redirect_with_flash, render, take_flash
from chatiq.panel.session import language
from chatiq.panel.sites import owned_site
from chatiq.core.protocol import ProtocolError, clean_fields, make_id, parse_id
from chatiq.store import sites
from chatiq.store import webhooks as store
from chatiq.webhooks import api
from chatiq.webhooks.events import EVENTS


async def _owned(request: web.Request):
    user = await require_owner(request)
    webhook = await store.webhook_for(request.app[keys.POOL], user,
                                      parse_id("wh", request.match_info["id"]))
    return user, webhook


def _form(form) -> dict:
    return {"url": str(form.get("url", "")).strip(),
            "events": [str(e) for e in form.getall("events", [])],
            "enabled": form.get("enabled") == "on"}


def _page(site_id: int) -> str:
    return f"/admin/sites/{make_id('s', site_id)}/webhooks"


async def webhooks_page(request: web.Request) -> web.Response:
    _, site = await owned_site(request)
    return await _render(request, site)


async def _render(request: web.Request, site: sites.Site, *, error: dict | None = None,
                  form: dict | None = None, status: int = 200) -> web.Response:
    found = await store.for_site(request.app[keys.POOL], site.id)
    return await render(request, "webhooks.html", {
        "site": site, "site_ref": make_id("s", site.id),
        "webhooks": [api.webhook_object(w) for w in found], "events": EVENTS,
        "error": error, "form": form or {"events": list(EVENTS), "enabled": True},
        "flash": await take_flash(request)}, status=status)


async def create(request: web.Request) -> web.Response:
    user, site = await owned_site(request)
    values = _form(await request.post())
    try:
        body = clean_fields(api.WEBHOOK_CREATE, values)
        await api.add(request, user, site.id, body["url"], body["events"], body["enabled"])
    except (ApiError, ProtocolError) as exc:
        return await _render(request, site, error=await _error(request, exc, "create"),
                             form=values, status=_status(exc))
    await redirect_with_flash(request, "webhooks.created", _page(site.id))


async def update(request: web.Request) -> web.Response:
    user, webhook = await _owned(request)
    values = _form(await request.post())
    try:
        body = clean_fields(api.WEBHOOK_CREATE, values)
        await api.save(request, user, webhook, body["url"], body["events"], body["enabled"])
    except (ApiError, ProtocolError) as exc:
        site = await sites.site_for(request.app[keys.POOL], user, webhook.site_id)
        return await _render(request, site, error=await _error(
            request, exc, make_id("wh", webhook.id)), status=_status(exc))
    await redirect_with_flash(request, "webhooks.saved", _page(webhook.site_id))


def _status(exc: ApiError | ProtocolError) -> int:
    return {"too_large": 413, "conflict": 409}.get(exc.code, 422)


async def delete(request: web.Request) -> web.Response:
    user, webhook = await _owned(request)
    await api.remove(request, user, webhook)
    await redirect_with_flash(request, "webhooks.deleted", _page(webhook.site_id))


async def rotate(request: web.Request) -> web.Response:
    user, webhook = await _owned(request)
    await api.rotate(request, user, webhook)
    await redirect_with_flash(request, "webhooks.rotated", _page(webhook.site_id))


async def send_test(request: web.Request) -> web.Response:
    _, webhook = await _owned(request)
    try:
        await api.send_test_event(request, webhook)
    except ApiError:
        await redirect_with_flash(request, "webhooks.test_disabled", _page(webhook.site_id))
    await redirect_with_flash(request, "webhooks.test_sent", _deliveries(webhook.id))


def _deliveries(webhook_id: int) -> str:
    return f"/admin/webhooks/{make_id('wh', webhook_id)}/deliveries"


async def deliveries_page(request: web.Request) -> web.Response:
    user, webhook = await _owned(request)
    pool = request.app[keys.POOL]
    site = await sites.site_for(pool, user, webhook.site_id)
    found = await store.deliveries(pool, webhook, limit=100)
    return await render(request, "webhook_deliveries.html", {
        "site": site, "site_ref": make_id("s", site.id), "webhook": api.webhook_object(webhook),
        "deliveries": [api.delivery_object(job, attempts) for job, attempts in found],
        "flash": await take_flash(request)})


async def retry(request: web.Request) -> web.Response:
    _, webhook = await _owned(request)
    form = await request.post()
    try:
        await api.retry(request, webhook, str(form.get("delivery", "")))
    except ApiError:  # delivered meanwhile: the log shows it
        await redirect_with_flash(request, "webhooks.already_sent", _deliveries(webhook.id))
    await redirect_with_flash(request, "webhooks.retried", _deliveries(webhook.id))


async def _error(request: web.Request, exc: ApiError | ProtocolError, form: str) -> dict:
    if exc.code == "conflict":  # the site has as many endpoints as it may
        text = i18n.translate(await language(request), "webhooks.too_many",
                              n=store.MAX_PER_SITE)
        return {"form": form, "field": "", "text": text}
    return await form_error(request, exc, form)


ROUTES = [
    ("GET", "/admin/sites/{id}/webhooks", webhooks_page, "panel_webhooks"),
    ("POST", "/admin/sites/{id}/webhooks", create, "panel_webhook_create"),
    ("POST", "/admin/webhooks/{id}", update, "panel_webhook_update"),
    ("POST", "/admin/webhooks/{id}/delete", delete, "panel_webhook_delete"),
    ("POST", "/admin/webhooks/{id}/rotate", rotate, "panel_webhook_rotate"),
    ("POST", "/admin/webhooks/{id}/test", send_test, "panel_webhook_test"),
    ("GET", "/admin/webhooks/{id}/deliveries", deliveries_page, "panel_webhook_deliveries"),
    ("POST", "/admin/webhooks/{id}/retry", retry, "panel_webhook_retry"),
]
