"""The outbox worker: claim due jobs, deliver them concurrently, retry with backoff.

One worker per process; processes sharing a database split the jobs between them
(claims skip locked rows). A job's sender either returns (delivered), raises
`DeliveryFailed` (its receiver refused or is unreachable), or raises anything else
(a bug: logged with its traceback and retried like a failure).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from chatiq.store import outbox as store
from chatiq.store.db import DatabaseUnavailable
from chatiq.store.outbox import Job

log = logging.getLogger(__name__)

# A sender delivers one job; it may return the receiver's status code for the log.
Sender = Callable[[Job], Awaitable["int | None"]]

# Jobs claimed per round, and delivered at once: a slow receiver holds one slot.
BATCH = 20
CONCURRENCY = 8
# Longest one delivery attempt may take before it counts as failed. The lease is longer,
# so no other process claims a job while its attempt can still succeed.
ATTEMPT_TIMEOUT_SECONDS = 30.0
LEASE_SECONDS = 90.0
# Finished jobs are kept this long for the delivery logs, then pruned (checked hourly).
KEEP_FINISHED_DAYS = 30
PRUNE_EVERY_SECONDS = 3600.0
# Stop waits this long for deliveries in flight; the rest run again after their lease.
STOP_GRACE_SECONDS = 5.0
# Rounds that found nothing to claim start at most this often, however often features
# wake the worker: under a busy chat load, wake-ups would otherwise turn into a stream
# of queries (seen at ~10% of the server's CPU in the throughput benchmark).
MIN_IDLE_ROUND_SECONDS = 0.05


class DeliveryFailed(Exception):
    """The receiver did not take the job. `retry=False` means it never will (a permanent
    refusal, e.g. an invalid address); `retry_after` overrides the backoff (Retry-After)."""

    def __init__(self, reason: str, *, status_code: int | None = None, retry: bool = True,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.status_code = status_code
        self.retry = retry
        self.retry_after = retry_after


class Worker:
    def __init__(self, pool, senders: dict[str, Sender], *, poll_seconds: float = 2.0,
                 backoff_base: float = 30.0, backoff_cap: float = 6 * 3600.0,
                 max_attempts: int = 10):
        self.pool = pool
        self.senders = senders  # job kind → the sender that delivers it
        self.poll_seconds = poll_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_attempts = max_attempts
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._inflight: set[asyncio.Task] = set()  # deliveries running now
        self._last_prune = 0.0
        # Set by stop(): the loop also ends on it, because aiopg sometimes turns the
        # cancellation of a query in flight into InterfaceError ("cursor already
        # closed"), which the loop would otherwise survive forever.
        self._stopping = False

    def start(self) -> None:
        if self.senders:  # nothing registered: nothing to deliver, no polling
            self._task = asyncio.create_task(self._run(), name="outbox-worker")

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            _, stuck = await asyncio.wait({self._task}, timeout=STOP_GRACE_SECONDS)
            if stuck:
                log.warning("outbox: worker did not stop in time")
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=STOP_GRACE_SECONDS)
            for task in list(self._inflight):
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`: doubling from the base, capped, with
        ±20% jitter so a receiver that comes back is not hit by every job at once."""
        delay = min(self.backoff_base * 2 ** (attempts - 1), self.backoff_cap)
        return delay * random.uniform(0.8, 1.2)

    async def _run(self) -> None:
        kinds = list(self.senders)
        while not self._stopping:
            try:
                self._wakeup.clear()
                await self._maybe_prune()
                jobs = await store.claim(self.pool, kinds=kinds,
                                         limit=BATCH, lease_seconds=LEASE_SECONDS)
                for job in jobs:
                    await self._slots.acquire()
                    task = asyncio.create_task(self._deliver(job))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                if len(jobs) == BATCH:
                    continue  # more may be due
                wait = await store.next_due_in(self.pool, kinds)
            except DatabaseUnavailable as exc:
                log.warning("outbox: database unavailable (%s); retrying", exc)
                wait = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end delivery for the process's lifetime
                if self._stopping:
                    return
                log.exception("outbox: worker round failed")
                wait = self.poll_seconds
            timeout = self.poll_seconds if wait is None else min(wait, self.poll_seconds)
            await asyncio.sleep(min(MIN_IDLE_ROUND_SECONDS, timeout))
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def _deliver(self, job: Job) -> None:
        started = time.monotonic()
        outcome: dict = {"ok": True}
        try:
            sender = self.senders[job.kind]
            outcome["status_code"] = await asyncio.wait_for(sender(job), ATTEMPT_TIMEOUT_SECONDS)
        except DeliveryFailed as exc:
            outcome = self._failure(job, str(exc), exc.status_code, exc.retry, exc.retry_after)
        except asyncio.TimeoutError:
            outcome = self._failure(job, f"timed out after {ATTEMPT_TIMEOUT_SECONDS:g} s")
        except Exception as exc:
            log.exception("outbox: %s job %d: sender raised", job.kind, job.id)
            outcome = self._failure(job, f"internal error: {type(exc).__name__}")
        finally:  # cancelled (stopping) too: the lease runs out and the job is due again
            self._slots.release()
        duration_ms = int((time.monotonic() - started) * 1000)
        try:
            await store.finish(self.pool, job, duration_ms=duration_ms, **outcome)
        except Exception as exc:  # the lease runs out and the job is tried again
            log.warning("outbox: could not record %s job %d: %s", job.kind, job.id, exc)
            return
        if not outcome["ok"]:
            log.info("outbox: %s job %d attempt %d failed: %s%s", job.kind, job.id,
                     job.attempts, outcome["error"],
                     "" if outcome["retry_in"] is not None else " (giving up)")

    def _failure(self, job: Job, error: str, status_code: int | None = None,
                 retry: bool = True, retry_after: float | None = None) -> dict:
        retry_in = None
        if retry and job.attempts < self.max_attempts:
            retry_in = self.backoff(job.attempts)
            if retry_after is not None:
                retry_in = min(max(retry_after, 0.0), self.backoff_cap)
        return {"ok": False, "error": error[:500], "status_code": status_code,
                "retry_in": retry_in}

    async def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune >= PRUNE_EVERY_SECONDS:
            self._last_prune = now
            pruned = await store.prune(self.pool, older_than_days=KEEP_FINISHED_DAYS)
            if pruned:
                log.info("outbox: pruned %d finished jobs", pruned)
