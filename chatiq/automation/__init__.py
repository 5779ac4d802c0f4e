"""Auto-replies, business hours and analytics: the chat answers itself when nobody can.

`setup_automation(app)` installs the engine at `keys.AUTOMATION` for the app's lifetime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from chatiq import keys
from chatiq.automation.clock import SystemClock
from chatiq.automation.engine import HOURS_TOPIC, Automation

def setup_automation(app: web.Application) -> None:
    """The engine for the app's lifetime; call after the database's cleanup context
    (the engine needs the pool)."""
    app.cleanup_ctx.append(_automation)


async def _automation(app: web.Application) -> AsyncIterator[None]:
    engine = Automation(app[keys.POOL], app[keys.HUB], app.get(keys.CLOCK) or SystemClock(),
                        app[keys.WRITER])
    await engine.start()
    app[keys.AUTOMATION] = engine
    bus = app.get(keys.BUS)
    if bus is not None:  # hours saved in one process re-time the others' flips
        bus.handlers[HOURS_TOPIC] = engine.reload_hours
        engine.tell_others = bus.signal
    try:
        yield
    finally:
        await engine.close()
