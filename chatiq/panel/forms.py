"""Turning a validation failure from the shared API specs into a translated form error."""

from __future__ import annotations

from aiohttp import web

from chatiq.api.common import ApiError
from chatiq.panel import i18n
from chatiq.panel.session import language
from chatiq.core.protocol import ProtocolError


async def form_error(request: web.Request, exc: ApiError | ProtocolError,
                     form: str | None = None) -> dict:
    """{"form", "field", "text"}: which form, which field, and a sentence in the user's language.

    The API's messages are English; the field name picks the translated sentence.
    """
    lang = await language(request)
    field = exc.field or ""
    base = field.split("[", 1)[0]
    key = "form.invalid." + base
    if not i18n.known(key):
        key = "form.invalid"
    if getattr(exc, "code", "") == "too_large":
        key = "form.too_long"
    label_key = "label." + base
    label = i18n.translate(lang, label_key) if i18n.known(label_key) else base
    return {"form": form, "field": field, "text": i18n.translate(lang, key, field=label)}
