"""Webhooks: a site's chat events POSTed, signed, to the URLs its OWNER names (docs/webhooks.md).

`setup_webhooks(app)` puts the event hook at `keys.WEBHOOKS` (the store calls it inside the
transactions that store events, see events.py) and registers the outbox sender (sender.py).
Importing any part of the package adds its strings to core/i18n's tables.
"""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.outbox import register_sender, wake
from chatiq.store.webhooks import KIND
from chatiq.webhooks import strings as _strings  # noqa: F401 - registers the texts
from chatiq.webhooks.events import EVENTS, WebhookEvents
from chatiq.webhooks.sender import WebhookSender

__all__ = ["EVENTS", "event_hook", "setup_webhooks"]


def setup_webhooks(app: web.Application) -> None:
    """Call after setup_outbox, before the app starts."""
    app[keys.WEBHOOKS] = WebhookEvents(wake=lambda: wake(app))
    register_sender(app, KIND, WebhookSender)


def event_hook(app: web.Application) -> WebhookEvents | None:
    """The hook to hand the store's event-storing functions (`on_event=`)."""
    return app.get(keys.WEBHOOKS)
