"""Wall-clock time and timers for the engine, swappable for a clock tests drive by hand.

A timer runs an async callback at an aware UTC datetime. `SystemClock` sleeps on the
event loop; `ManualClock` runs due callbacks only when a test calls `advance`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]

# A long sleep is cut into pieces this long and the wall clock re-read after each,
# so an NTP step or a suspended laptop moves a far-away timer with the clock.
MAX_SLEEP_SECONDS = 3600.0


class Timer:
    def __init__(self):
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    def now(self) -> datetime:
        raise NotImplementedError

    def call_at(self, when: datetime, callback: Callback) -> Timer:
        raise NotImplementedError

    async def close(self) -> None:
        """Cancel every timer and wait for callbacks already running."""


class SystemClock(Clock):
    def __init__(self):
        self._tasks: set[asyncio.Task] = set()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def call_at(self, when: datetime, callback: Callback) -> Timer:
        timer = _SystemTimer()
        task = asyncio.get_running_loop().create_task(self._run(when, callback, timer))
        timer.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return timer

    async def _run(self, when: datetime, callback: Callback, timer: _SystemTimer) -> None:
        while (delay := (when - self.now()).total_seconds()) > 0:
            await asyncio.sleep(min(delay, MAX_SLEEP_SECONDS))
        if timer.cancelled:
            return
        timer.running = True
        try:
            await callback()
        except Exception:
            log.exception("automation timer failed")

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _SystemTimer(Timer):
    task: asyncio.Task | None = None
    running = False

    def cancel(self) -> None:
        super().cancel()
        # A callback already running finishes its transaction; a sleeping one stops.
        if self.task is not None and not self.running:
            self.task.cancel()


class ManualClock(Clock):
    """Time stands still until `advance`; due callbacks then run in order, awaited."""

    def __init__(self, start: datetime):
        self._now = start
        self._queue: list[tuple[datetime, int, Timer, Callback]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    def call_at(self, when: datetime, callback: Callback) -> Timer:
        timer = Timer()
        heapq.heappush(self._queue, (when, next(self._order), timer, callback))
        return timer

    def pending(self) -> list[datetime]:
        return sorted(when for when, _, timer, _ in self._queue if not timer.cancelled)

    async def advance(self, seconds: float = 0, *, to: datetime | None = None) -> None:
        target = to if to is not None else self._now + timedelta(seconds=seconds)
        while self._queue and self._queue[0][0] <= target:
            when, _, timer, callback = heapq.heappop(self._queue)
            self._now = max(self._now, when)
            if not timer.cancelled:
                await callback()
        self._now = max(self._now, target)

    async def close(self) -> None:
        for _, _, timer, _ in self._queue:
            timer.cancel()
        self._queue.clear()
