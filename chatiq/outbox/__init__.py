"""Delivery to the world outside (emails, webhooks) from the database's outbox table.

Features enqueue jobs with `chatiq.store.outbox.enqueue` inside the transaction that
stores their event, and register a sender for their kind with `register_sender`; the
worker (worker.py) claims due jobs, calls the sender, retries with backoff, and logs
every attempt. Delivery is at least once: a process killed between a receiver's OK and
the database's note of it sends that job again, so every job carries a stable id
(`delivery_id`) receivers can deduplicate on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from chatiq import keys
from chatiq.outbox.worker import DeliveryFailed, Sender, Worker

__all__ = ["DeliveryFailed", "Sender", "Worker", "register_sender", "setup_outbox", "wake"]

def register_sender(app: web.Application,
                    kind: str, factory: Callable[[web.Application], Sender]) -> None:
    """Deliver jobs of `kind` with the sender `factory(app)` builds when the app starts."""
    app.setdefault(keys.SENDER_FACTORIES, {})[kind] = factory


def setup_outbox(app: web.Application) -> None:
    """The worker for the app's lifetime; call after the database's cleanup context."""
    app.setdefault(keys.SENDER_FACTORIES, {})
    app.cleanup_ctx.append(_outbox)


def wake(app: web.Application) -> None:
    """Look for due jobs now (after enqueueing one), not at the next poll."""
    worker = app.get(keys.OUTBOX)
    if worker is not None:
        worker.wake()


async def _outbox(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    senders = {kind: factory(app) for kind, factory in app[keys.SENDER_FACTORIES].items()}
    worker = Worker(app[keys.POOL], senders, poll_seconds=config.outbox_poll_seconds,
                    backoff_base=config.outbox_backoff_base,
                    backoff_cap=config.outbox_backoff_cap,
                    max_attempts=config.outbox_max_attempts)
    app[keys.OUTBOX] = worker
    worker.start()
    try:
        yield
    finally:
        await worker.stop()
        for sender in senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                await close()
