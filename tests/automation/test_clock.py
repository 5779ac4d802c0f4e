"""The clocks: ManualClock runs due timers in order; SystemClock fires and cancels."""

import asyncio
from datetime import datetime, timedelta, timezone

from chatiq.automation.clock import ManualClock, SystemClock

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


async def test_manual_clock_runs_due_timers_in_order_and_skips_cancelled():
    clock, ran = ManualClock(T0), []

    def at(seconds, name):
        async def run():
            ran.append((name, clock.now()))
        return clock.call_at(T0 + timedelta(seconds=seconds), run)

    at(30, "b")
    at(10, "a")
    at(20, "cancelled").cancel()
    at(90, "later")
    await clock.advance(60)
    assert ran == [("a", T0 + timedelta(seconds=10)), ("b", T0 + timedelta(seconds=30))]
    assert clock.now() == T0 + timedelta(seconds=60) and clock.pending() == [T0 + timedelta(seconds=90)]


async def test_system_clock_fires_at_the_time_and_cancel_stops_it():
    clock, fired = SystemClock(), asyncio.Event()

    async def ring():
        fired.set()

    async def never():
        raise AssertionError("a cancelled timer ran")

    clock.call_at(clock.now() + timedelta(milliseconds=20), ring)
    clock.call_at(clock.now() + timedelta(milliseconds=10), never).cancel()
    await asyncio.wait_for(fired.wait(), 2)
    await asyncio.sleep(0.02)
    await clock.close()
