"""Email over the REST API: the organization's SMTP settings and a test email (OWNER), and
each site's missed-chat wait (read by its team, set by an OWNER)."""

from __future__ import annotations

from aiohttp import web

from chatiq.api.common import ApiError, pool, read_json, require_owner, require_user
from chatiq.mail import settings as mail_settings
from chatiq.outbox import DeliveryFailed
from chatiq.panel.sites import own_origin
from chatiq.core.protocol import parse_id
from chatiq.store import mail as store
from chatiq.store import sites


async def _owner(request: web.Request):
    user = await require_user(request)
    require_owner(user)
    return user


async def get_mail(request: web.Request) -> web.Response:
    owner = await _owner(request)
    found = await store.settings_for(pool(request), owner.org_id)
    return web.json_response({"mail": mail_settings.settings_object(found)})


async def put_mail(request: web.Request) -> web.Response:
    owner = await _owner(request)
    data = mail_settings.clean_settings(await read_json(request, mail_settings.SETTINGS))
    saved = await mail_settings.save(request, owner, data, own_origin(request))
    return web.json_response({"mail": mail_settings.settings_object(saved)})


async def delete_mail(request: web.Request) -> web.Response:
    owner = await _owner(request)
    if not await mail_settings.remove(request, owner):
        raise ApiError("not_found", "email is not set up")
    return web.Response(status=204)


async def test_mail(request: web.Request) -> web.Response:
    owner = await _owner(request)
    body = await read_json(request, mail_settings.TEST)
    found = await store.settings_for(pool(request), owner.org_id)
    if found is None:
        raise ApiError("conflict", "email is not set up: PUT /api/v1/mail first")
    try:
        await mail_settings.send_test(request, owner, found, body["to"])
    except DeliveryFailed as exc:  # the mail server's answer, for the OWNER to act on
        raise ApiError("smtp_failed", str(exc), status=502) from None
    return web.json_response({"sent": True})


async def _site(request: web.Request, *, owner: bool):
    """Another tenant's site is 404 whoever asks; an OPERATOR may read, not change."""
    user = await require_user(request)
    site = await sites.site_for(pool(request), user, parse_id("s", request.match_info["id"]))
    if owner:
        require_owner(user)
    return site


async def get_missed_chat(request: web.Request) -> web.Response:
    site = await _site(request, owner=False)
    seconds = await store.missed_chat_seconds(pool(request), site.id)
    return web.json_response({"missedChat": {"minutes": mail_settings.minutes(seconds)}})


async def put_missed_chat(request: web.Request) -> web.Response:
    site = await _site(request, owner=True)
    body = await read_json(request, mail_settings.MISSED_CHAT)
    await store.set_missed_chat_seconds(pool(request), site.id, body["minutes"] * 60)
    return web.json_response({"missedChat": {"minutes": body["minutes"]}})
