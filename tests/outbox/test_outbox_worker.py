"""The outbox worker against the real database: once per key, retries with backoff,
permanent failures, hung receivers, crashed claimers, restarts, two processes."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from chatiq import keys
from chatiq.app import create_app
from chatiq.keys import SENDER_FACTORIES
from chatiq.outbox import DeliveryFailed, register_sender, wake
from chatiq.outbox import worker as worker_mod
from chatiq.outbox.worker import Worker
from chatiq.store import outbox as store


class Receiver:
    """A sender that records what it got and does what the test scripts for each call."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []  # (job id, attempt)
        self.script: list = []  # per call: None (accept), an exception, or "hang"
        self.got = asyncio.Event()

    async def __call__(self, job) -> int:
        self.calls.append((job.id, job.attempts))
        self.got.set()
        action = self.script.pop(0) if self.script else None
        if action == "hang":
            await asyncio.sleep(3600)
        if isinstance(action, BaseException):
            raise action
        return 200

    async def wait_calls(self, n: int, timeout: float = 10.0) -> None:
        async def enough():
            while len(self.calls) < n:
                self.got.clear()
                await self.got.wait()
        await asyncio.wait_for(enough(), timeout)


@pytest.fixture
def org(sql) -> int:
    return sql("INSERT INTO organizations (name) VALUES ('Acme') RETURNING id")[0][0]


@pytest.fixture
def fast_config(config):
    return dataclasses.replace(config, outbox_poll_seconds=0.05, outbox_backoff_base=0.05,
                               outbox_backoff_cap=0.2, outbox_max_attempts=3)


CLIENTS: dict[int, object] = {}  # id(app) → its test client, to stop one mid-test


async def start(aiohttp_client, config, receiver: Receiver):
    app = create_app(config)
    register_sender(app, "test", lambda app: receiver)
    CLIENTS[id(app)] = await aiohttp_client(app)
    return app


def job_row(sql, job_id: int) -> dict:
    status, attempts, error = sql(
        "SELECT status, attempts, last_error FROM outbox WHERE id = %s", (job_id,))[0]
    return {"status": status, "attempts": attempts, "error": error}


def log_rows(sql, job_id: int) -> list[tuple]:
    return sql("SELECT attempt, ok, status_code, error FROM outbox_attempts"
               " WHERE outbox_id = %s ORDER BY id", (job_id,))


async def settle(sql, job_id: int, status: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if job_row(sql, job_id)["status"] == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} is {job_row(sql, job_id)}, not {status}")


async def test_a_key_enqueued_twice_is_delivered_once(aiohttp_client, fast_config, sql, org):
    receiver = Receiver()
    app = await start(aiohttp_client, fast_config, receiver)
    pool = app[keys.POOL]
    first = await store.enqueue_now(pool, org_id=org, kind="test", key="chat-1:missed",
                                    payload={"n": 1})
    again = await store.enqueue_now(pool, org_id=org, kind="test", key="chat-1:missed",
                                    payload={"n": 2})
    assert first is not None and again is None
    wake(app)
    await settle(sql, first, "sent")
    await asyncio.sleep(0.2)  # a few more polls: nothing else goes out
    assert receiver.calls == [(first, 1)]
    assert log_rows(sql, first) == [(1, True, 200, None)]
    assert sql("SELECT payload->>'n' FROM outbox WHERE id = %s", (first,)) == [("1",)]


async def test_a_refusal_is_retried_until_it_succeeds(aiohttp_client, fast_config, sql, org):
    receiver = Receiver()
    receiver.script = [DeliveryFailed("HTTP 500", status_code=500),
                       DeliveryFailed("connection refused")]
    app = await start(aiohttp_client, fast_config, receiver)
    job = await store.enqueue_now(app[keys.POOL], org_id=org, kind="test", key="k", payload={})
    await settle(sql, job, "sent")
    assert [attempt for _, attempt in receiver.calls] == [1, 2, 3]
    assert log_rows(sql, job) == [(1, False, 500, "HTTP 500"),
                                  (2, False, None, "connection refused"),
                                  (3, True, 200, None)]


async def test_it_gives_up_after_max_attempts(aiohttp_client, fast_config, sql, org):
    receiver = Receiver()
    receiver.script = [DeliveryFailed("down")] * 5
    app = await start(aiohttp_client, fast_config, receiver)
    job = await store.enqueue_now(app[keys.POOL], org_id=org, kind="test", key="k", payload={})
    await settle(sql, job, "failed")
    await asyncio.sleep(0.3)
    assert len(receiver.calls) == 3  # fast_config's max
    assert job_row(sql, job) == {"status": "failed", "attempts": 3, "error": "down"}


async def test_a_permanent_refusal_is_not_retried(aiohttp_client, fast_config, sql, org):
    receiver = Receiver()
    receiver.script = [DeliveryFailed("550 no such user", status_code=550, retry=False)]
    app = await start(aiohttp_client, fast_config, receiver)
    job = await store.enqueue_now(app[keys.POOL], org_id=org, kind="test", key="k", payload={})
    await settle(sql, job, "failed")
    await asyncio.sleep(0.2)
    assert len(receiver.calls) == 1
    assert log_rows(sql, job) == [(1, False, 550, "550 no such user")]


async def test_a_sender_bug_is_logged_and_retried(aiohttp_client, fast_config, sql, org, caplog):
    receiver = Receiver()
    receiver.script = [KeyError("oops")]
    app = await start(aiohttp_client, fast_config, receiver)
    job = await store.enqueue_now(app[keys.POOL], org_id=org, kind="test", key="k", payload={})
    await settle(sql, job, "sent")
    assert log_rows(sql, job)[0] == (1, False, None, "internal error: KeyError")
    assert "sender raised" in caplog.text


async def test_a_hung_receiver_times_out_and_others_still_go(aiohttp_client, fast_config, sql,
                                                              org, monkeypatch):
    monkeypatch.setattr(worker_mod, "ATTEMPT_TIMEOUT_SECONDS", 0.3)
    receiver = Receiver()
    receiver.script = ["hang"]
    app = await start(aiohttp_client, fast_config, receiver)
    pool = app[keys.POOL]
    slow = await store.enqueue_now(pool, org_id=org, kind="test", key="slow", payload={})
    await receiver.wait_calls(1)
    quick = await store.enqueue_now(pool, org_id=org, kind="test", key="quick", payload={})
    wake(app)
    await settle(sql, quick, "sent", timeout=0.25)  # while the first one still hangs
    await settle(sql, slow, "sent")
    assert log_rows(sql, slow)[0][1:] == (False, None, "timed out after 0.3 s")


async def test_a_job_claimed_by_a_dead_process_falls_due_when_its_lease_ends(
        aiohttp_client, fast_config, sql, org):
    receiver = Receiver()
    app = await start(aiohttp_client, fast_config, receiver)
    # Enqueued and claimed by "another process" that then died without finishing it.
    job = await store.enqueue_now(app[keys.POOL], org_id=org, kind="not-yet", key="k",
                                  payload={})
    sql("UPDATE outbox SET kind = 'test', attempts = 1, locked_until = now() + interval '0.5 s'"
        " WHERE id = %s", (job,))
    await asyncio.sleep(0.3)
    assert receiver.calls == []  # still leased
    await settle(sql, job, "sent", timeout=5)
    assert receiver.calls == [(job, 2)]


async def test_a_job_cut_off_by_shutdown_is_delivered_after_restart(
        aiohttp_client, fast_config, sql, org, monkeypatch):
    monkeypatch.setattr(worker_mod, "LEASE_SECONDS", 0.5)
    monkeypatch.setattr(worker_mod, "STOP_GRACE_SECONDS", 0.1)
    first = Receiver()
    first.script = ["hang"]
    app = await start(aiohttp_client, fast_config, first)
    job = await store.enqueue_now(app[keys.POOL], org_id=org, kind="test", key="k", payload={})
    await first.wait_calls(1)
    await CLIENTS.pop(id(app)).close()
    assert job_row(sql, job)["status"] == "pending"

    second = Receiver()
    await start(aiohttp_client, fast_config, second)
    await settle(sql, job, "sent")
    assert second.calls == [(job, 2)]
    assert log_rows(sql, job) == [(2, True, 200, None)]


async def test_two_processes_deliver_every_job_exactly_once(aiohttp_client, fast_config, sql,
                                                           org):
    a, b = Receiver(), Receiver()
    app_a = await start(aiohttp_client, fast_config, a)
    await start(aiohttp_client, fast_config, b)
    pool = app_a[keys.POOL]
    ids = [await store.enqueue_now(pool, org_id=org, kind="test", key=f"k{n}", payload={"n": n})
           for n in range(60)]
    for job in ids:
        await settle(sql, job, "sent")
    delivered = sorted(job for job, _ in a.calls + b.calls)
    assert delivered == sorted(ids)


async def test_only_registered_kinds_are_claimed(aiohttp_client, fast_config, sql, org):
    receiver = Receiver()
    app = await start(aiohttp_client, fast_config, receiver)
    other = await store.enqueue_now(app[keys.POOL], org_id=org, kind="nobody-sends-this",
                                    key="k", payload={})
    mine = await store.enqueue_now(app[keys.POOL], org_id=org, kind="test", key="k", payload={})
    await settle(sql, mine, "sent")
    assert job_row(sql, other) == {"status": "pending", "attempts": 0, "error": None}


async def test_retry_now_belongs_to_the_jobs_organization(aiohttp_client, fast_config, sql, org):
    receiver = Receiver()
    receiver.script = [DeliveryFailed("no", retry=False)]
    app = await start(aiohttp_client, fast_config, receiver)
    pool = app[keys.POOL]
    job = await store.enqueue_now(pool, org_id=org, kind="test", key="k", payload={})
    await settle(sql, job, "failed")
    stranger = sql("INSERT INTO organizations (name) VALUES ('Evil') RETURNING id")[0][0]
    assert await store.retry_now(pool, job, stranger) is False
    assert job_row(sql, job)["status"] == "failed"
    assert await store.retry_now(pool, job, org) is True
    wake(app)
    await settle(sql, job, "sent")
    assert [ok for _, ok, _, _ in log_rows(sql, job)] == [False, True]


def test_backoff_doubles_with_jitter_up_to_the_cap():
    worker = Worker(None, {}, backoff_base=10, backoff_cap=100)
    for attempts, nominal in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (30, 100)]:
        for _ in range(50):
            assert 0.8 * nominal <= worker.backoff(attempts) <= 1.2 * nominal


async def test_retry_after_overrides_the_backoff(aiohttp_client, fast_config, sql, org):
    receiver = Receiver()
    receiver.script = [DeliveryFailed("429", status_code=429, retry_after=0.0)]
    app = await start(aiohttp_client, dataclasses.replace(fast_config, outbox_backoff_base=60,
                                                          outbox_backoff_cap=60), receiver)
    job = await store.enqueue_now(app[keys.POOL], org_id=org, kind="test", key="k", payload={})
    await settle(sql, job, "sent", timeout=3)  # not 60 s later
    assert [ok for _, ok, _, _ in log_rows(sql, job)] == [False, True]


async def test_no_senders_means_no_polling(aiohttp_client, config):
    app = create_app(config)
    app[SENDER_FACTORIES].clear()
    await aiohttp_client(app)
    assert app[keys.OUTBOX]._task is None


async def test_stop_ends_a_loop_whose_cancellation_the_driver_swallowed(monkeypatch):
    """Regression: aiopg sometimes turns the cancellation of a query in flight into
    InterfaceError; the loop caught it as a failed round, went on polling, and the
    app's shutdown waited for it forever."""
    entered = asyncio.Event()

    async def claim_like_aiopg(*args, **kwargs):
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("cursor already closed") from None

    monkeypatch.setattr(store, "claim", claim_like_aiopg)
    worker = Worker(None, {"test": Receiver()}, poll_seconds=0.01)
    worker.start()
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.wait_for(worker.stop(), 2)
    assert worker._task.done()


async def test_an_empty_outbox_is_not_due(aiohttp_client, fast_config, sql, org):
    """Regression: with no pending job, next_due_in answered 0 ("due now") instead of
    None, so an idle worker queried the database without pause (~10% of a busy
    server's CPU in the throughput benchmark)."""
    app = await start(aiohttp_client, fast_config, Receiver())
    pool = app[keys.POOL]
    # A kind no sender here claims, so the worker leaves the job alone.
    assert await store.next_due_in(pool, ["unclaimed"]) is None
    job = await store.enqueue_now(pool, org_id=org, kind="unclaimed", key="later", payload={},
                                  delay_seconds=600)
    assert 590 < await store.next_due_in(pool, ["unclaimed"]) <= 600
    sql("UPDATE outbox SET next_attempt_at = now() - interval '1 minute' WHERE id = %s", (job,))
    assert await store.next_due_in(pool, ["other"]) is None
    assert await store.next_due_in(pool, ["unclaimed"]) == 0.0
