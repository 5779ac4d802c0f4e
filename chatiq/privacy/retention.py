"""The retention job: at start-up and every `retention_interval_seconds`, each site with
a retention period loses chats idle longer, attachments older, and visitors nothing keeps.

Any number of processes may run it: a run starts only when it gets PostgreSQL's
advisory lock, so at most one process deletes at a time and the others skip that round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from chatiq import keys

from chatiq.core import protocol
from chatiq.files.upload import storage_of
from chatiq.store import db
from chatiq.store import retention as store
from chatiq.files.upload import apply_retention

log = logging.getLogger(__name__)

# How long shutdown waits for a run in progress before cancelling it.
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class RunResult:
    """One run: whether it held the lock, and which sites and visitors it went through."""

    ran: bool
    sites: int = 0
    visitors_removed: int = 0


async def run_retention(app: web.Application) -> RunResult:
    """One round over every site with a retention period, if no other process is in one."""
    pool = app[keys.POOL]
    async with db.cursor(pool) as lock:
        if not await store.try_lock(lock):
            return RunResult(ran=False)
        try:
            done = removed = 0
            for site_id, days in await store.sites_with_retention(pool):
                try:
                    await apply_retention(pool, storage_of(app), site_id=site_id, days=days)
                    gone = await store.delete_idle_visitors(pool, site_id, days)
                except (db.StoreError, OSError):  # one site's failure must not stop the rest
                    log.exception("retention failed for site %s", site_id)
                    continue
                for visitor_id in gone:  # a widget left open for days: let it start afresh
                    app[keys.HUB].end_visitor(visitor_id, protocol.CLOSE_VISITOR_ERASED,
                                              "visitor data expired")
                done, removed = done + 1, removed + len(gone)
            return RunResult(ran=True, sites=done, visitors_removed=removed)
        finally:
            await store.unlock(lock)


async def _loop(app: web.Application, interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            result = await run_retention(app)
            if result.ran and result.sites:
                log.info("retention: %d sites, %d idle visitors removed", result.sites,
                         result.visitors_removed)
        except db.DatabaseUnavailable:
            log.warning("retention: database unavailable, trying again next round")
        except Exception:  # a bug must not end the job for the process's lifetime
            log.exception("retention run failed")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def retention_job(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the job runs from start-up to shutdown; a run in progress may
    finish (deleting in one transaction per step), then it stops."""
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(app, app[keys.CONFIG].retention_interval_seconds, stop))
    try:
        yield
    finally:
        stop.set()
        # asyncio.wait, not wait_for: a cancellation swallowed inside the driver must not
        # hold the shutdown (see bus.py).
        _, running = await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
        if running:
            log.warning("retention run cancelled at shutdown")
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
