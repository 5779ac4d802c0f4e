"""What a site made in the panel starts with, so its first minute works: a greeting and an
offline auto-reply, in both languages, both editable (widget settings, Automation)."""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.core import fanout
from chatiq.core.wire import settings_object
from chatiq.store import automation, sites

GREETINGS = {"en": "Hi! How can we help?", "uk": "Вітаємо! Чим можемо допомогти?"}
AWAY = {"en": "Thanks for your message! Nobody is at the desk right now; we will answer here"
              " as soon as we are back.",
        "uk": "Дякуємо за повідомлення! Зараз нікого немає на місці; ми відповімо тут, щойно"
              " повернемося."}


async def give_starters(app: web.Application, site: sites.Site) -> None:
    pool = app[keys.POOL]
    stored = await sites.save_widget_settings(pool, site.id, {
        "greetings": GREETINGS, "greeting": GREETINGS["en"]})
    fanout.settings_changed(app[keys.HUB], site.id, settings_object(stored))
    await automation.create_rule(pool, site.id, {
        "trigger": "offline", "keyword": None, "delay_seconds": 0, "text": AWAY["en"],
        "texts": AWAY, "enabled": True})
    app[keys.AUTOMATION].rules_changed(site.id)
