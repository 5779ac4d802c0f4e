"""Prometheus metrics: one registry per app (tests' apps never share counters), the
objects the server updates, and the function the message writer reports batches with.
All names start with `chatiq_`; GET /metrics (api/metrics.py) renders the registry.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily

# Group commits hold 1 message when quiet and hundreds under load (docs/benchmarks.md).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
# One commit is ~1 ms on a local PostgreSQL; a far one or a stalled disk costs far more.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """This process's metrics. Counters only grow; gauges are set when scraped."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages_stored = Counter(
            "chatiq_messages_stored", "Messages committed, by author kind",
            ["author_kind"], registry=r)
        self.store_latency = Histogram(
            "chatiq_store_latency_seconds", "Time the writer took to store one batch",
            buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram(
            "chatiq_writer_batch_size", "Messages per group commit", buckets=BATCH_BUCKETS,
            registry=r)
        self.connections = Gauge(
            "chatiq_connections", "Open WebSocket connections that joined or authenticated,"
            " by kind", ["kind"], registry=r)
        self.outbox_pending = Gauge(
            "chatiq_outbox_jobs_pending", "Emails and webhook calls waiting to be delivered",
            registry=r)
        self.outbox_failed = Gauge(
            "chatiq_outbox_jobs_failed", "Emails and webhook calls given up on", registry=r)
        self.pool_in_use = Gauge(
            "chatiq_db_pool_connections_in_use", "Database connections checked out of the pool",
            registry=r)
        self.pool_size = Gauge(
            "chatiq_db_pool_connections", "Database connections the pool holds", registry=r)
        # process_resident_memory_bytes, CPU seconds, open fds … as chatiq_process_*.
        ProcessCollector(namespace="chatiq", registry=r)
        # limit name → a function returning how many attempts it refused so far (the
        # limiters count for themselves), and refusals reported here directly.
        self._refusal_sources: dict[str, Callable[[], int]] = {}
        self._refused: Tally[str] = Tally()
        r.register(_Refusals(self))

    def count_refusals_of(self, limit: str, source: Callable[[], int]) -> None:
        """Report `source()` as the refusals of the limit named `limit`."""
        self._refusal_sources[limit] = source

    def refused(self, limit: str) -> None:
        """One attempt refused by a limit that keeps no count of its own."""
        self._refused[limit] += 1

    def refusals(self) -> dict[str, int]:
        out = Tally(self._refused)
        for limit, source in self._refusal_sources.items():
            out[limit] += source()
        return dict(out)


def observe_batch(metrics: Metrics | None, size: int, seconds: float,
                  kinds: Mapping[str, int]) -> None:
    """The writer's report after each committed batch: how many messages (`size`), how long
    storing them took, and how many of each author kind ('visitor', 'operator', 'bot',
    'system') were new. `metrics` None (a writer built without an app): nothing."""
    if metrics is None:
        return
    metrics.batch_size.observe(size)
    metrics.store_latency.observe(seconds)
    for kind, count in kinds.items():
        if count:
            metrics.messages_stored.labels(author_kind=kind).inc(count)


def set_connections(metrics: Metrics, counts: Mapping[str, int]) -> None:
    """Gauge the open connections by kind."""
    for kind in ("visitor", "operator"):
        metrics.connections.labels(kind=kind).set(counts.get(kind, 0))


class _Refusals:
    """chatiq_rate_limit_refusals_total{limit}: read from the limiters when scraped."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def describe(self):
        return [CounterMetricFamily("chatiq_rate_limit_refusals",
                                    "Attempts refused by a rate limit", labels=["limit"])]

    def collect(self):
        family = CounterMetricFamily("chatiq_rate_limit_refusals",
                                     "Attempts refused by a rate limit", labels=["limit"])
        for limit, count in sorted(self.metrics.refusals().items()):
            family.add_metric([limit], count)
        yield family
