"""Widget settings of one site, with a live preview; a save restyles every open widget."""

from __future__ import annotations

from aiohttp import web

from chatiq.core import fanout

from chatiq import keys
from chatiq.api.common import ApiError
from chatiq.api.sites import SETTINGS, clean_settings
from chatiq.panel.forms import form_error
from chatiq.panel.render import redirect_with_flash, render, take_flash
from chatiq.panel.sites import owned_site
from chatiq.core.languages import texts_and_fallback
from chatiq.core.protocol import ProtocolError, clean_fields
from chatiq.store import retention, site_identity, sites
from chatiq.core.wire import settings_object

# Text settings an owner may clear: an empty box means "none", not an empty string.
_CLEARABLE = ("greeting", "agentName", "agentAvatarUrl")


def _from_form(form) -> dict:
    values = {name: str(form.get(name, "")).strip() for name in
              ("color", "secondaryColor", "position", "size", "agentName", "agentAvatarUrl")}
    # The English box and the Ukrainian one; `greeting` is for visitors in any other language.
    values["greetings"], values["greeting"] = texts_and_fallback(
        str(form.get("greeting", "")), str(form.get("greeting_uk", "")))
    values["quickReplies"] = [line.strip() for line in str(form.get("quickReplies", "")).splitlines()
                              if line.strip()]
    values["showBranding"] = form.get("showBranding") == "on"
    return values


async def settings_page(request: web.Request) -> web.Response:
    _, site = await owned_site(request)
    stored = await sites.widget_settings(request.app[keys.POOL], site.id)
    return await render(request, "site_settings.html", {
        "site": site, "s": settings_object(stored),
        "identity": await site_identity.ensure(request.app[keys.POOL], site.id),
        "retention_days": await retention.retention_days(request.app[keys.POOL], site.id),
        "flash": await take_flash(request)})


async def save_settings(request: web.Request) -> web.Response:
    _, site = await owned_site(request)
    values = _from_form(await request.post())
    try:
        changes = clean_settings(clean_fields(SETTINGS, values))
    except (ApiError, ProtocolError) as exc:
        return await render(request, "site_settings.html", {
            "site": site, "s": {**settings_object({}), **values},
            "identity": await site_identity.ensure(request.app[keys.POOL], site.id),
            "retention_days": await retention.retention_days(request.app[keys.POOL], site.id),
            "error": await form_error(request, exc, "settings")}, status=422)
    for name in _CLEARABLE:
        if changes.get(name) == "":
            changes[name] = None
    pool = request.app[keys.POOL]
    stored = await sites.save_widget_settings(pool, site.id, changes)
    fanout.settings_changed(request.app[keys.HUB], site.id, settings_object(stored))
    await redirect_with_flash(request, "settings.saved",
                              f"/admin/sites/{request.match_info['id']}/settings")
