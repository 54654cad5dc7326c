"""Prometheus RED metrics for inbound and outbound HTTP, circuit breaker state and connection pools.

The metric objects are module-level on purpose: the Prometheus registry is process-global and a
metric may be registered once, so every app in the process (embedded mode runs them all) shares
these and tells itself apart by the ``service``/``target`` label.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.metrics import MetricWrapperBase
    from sqlalchemy.ext.asyncio import AsyncEngine

#: Fitted to what docs/performance.md measured: a cached read by id takes ~5 ms at p50 and ~10 ms
#: at p99 (the first buckets split it), one checkout ~75-130 ms alone and 1-2 s under 16 shoppers,
#: up to ~20 s on an overloaded machine (the last buckets, below the front's 30 s timeout).
#: 0.25, 1.0 and 2.5 must stay: they are the SLOs' latency thresholds (agora.deploy.observability).
DURATION_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

UNMATCHED_ROUTE = "<unmatched>"

http_requests_total = Counter(
    "agora_http_requests_total",
    "HTTP requests handled, by route template and status code.",
    ("service", "method", "route", "status"),
)
http_request_duration_seconds = Histogram(
    "agora_http_request_duration_seconds",
    "Time from receiving an HTTP request to sending the end of its response.",
    ("service", "method", "route"),
    buckets=DURATION_BUCKETS,
)
http_requests_in_progress = Gauge(
    "agora_http_requests_in_progress",
    "HTTP requests being handled right now.",
    ("service",),
    multiprocess_mode="livesum",
)
http_client_requests_total = Counter(
    "agora_http_client_requests_total",
    "Outgoing HTTP requests to other services, by status code ('error' when no response came back).",
    ("target", "method", "status"),
)
http_client_request_duration_seconds = Histogram(
    "agora_http_client_request_duration_seconds",
    "Duration of outgoing HTTP requests to other services (one observation per attempt).",
    ("target", "method"),
    buckets=DURATION_BUCKETS,
)
circuit_breaker_state = Gauge(
    "agora_circuit_breaker_state",
    "Circuit breaker state per target: 0 closed, 1 open, 2 half-open.",
    ("target",),
    multiprocess_mode="livemax",
)

task_runs_total = Counter(
    "agora_task_runs_total",
    "Runs of periodic background tasks (sweeps, recovery), by outcome.",
    ("task", "outcome"),
)
task_duration_seconds = Histogram(
    "agora_task_duration_seconds",
    "Duration of one run of a periodic background task.",
    ("task",),
    buckets=DURATION_BUCKETS,
)


def preinitialise(metric: MetricWrapperBase, *label_values: str | tuple[str, ...]) -> None:
    """Creates the children of a labelled metric at zero.

    A labelled child is otherwise born at its first increment, already at 1: Prometheus's first
    sample then shows no increase (``rate``/``increase`` stay 0 for it) and ``absent()`` says
    "missing" until something happens. Only for label values from a closed set written in code.
    """
    for values in label_values:
        metric.labels(*((values,) if isinstance(values, str) else values))


# -- database connection pools ------------------------------------------------------------------


class _PoolCollector(Collector):
    """Reads each watched engine's pool when Prometheus scrapes: a gauge updated on every checkout
    would cost every query a few label lookups for a number only the scrape looks at."""

    def __init__(self) -> None:
        self._engines: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()

    def watch(self, service: str, engine: AsyncEngine) -> None:
        self._engines[service] = engine.sync_engine

    def collect(self) -> Iterator[Metric]:
        families = {
            "size": GaugeMetricFamily(
                "agora_db_pool_size", "Connections the pool may hold (its share of the budget).", labels=["service"]
            ),
            "in_use": GaugeMetricFamily(
                "agora_db_pool_connections_in_use", "Pooled connections checked out right now.", labels=["service"]
            ),
            "idle": GaugeMetricFamily(
                "agora_db_pool_connections_idle", "Open pooled connections nobody uses right now.", labels=["service"]
            ),
            "waiting": GaugeMetricFamily(
                "agora_db_pool_waiting",
                "Callers waiting for a pooled connection (all of them are in use).",
                labels=["service"],
            ),
        }
        for service, engine in sorted(self._engines.items()):
            pool = engine.pool
            reading = {
                "size": getattr(pool, "size", lambda: 0)(),
                "in_use": getattr(pool, "checkedout", lambda: 0)(),
                "idle": getattr(pool, "checkedin", lambda: 0)(),
                "waiting": getattr(pool, "waiting", 0),
            }
            for key, family in families.items():
                family.add_metric([service], float(reading[key]))
        yield from families.values()

    def describe(self) -> Iterable[Metric]:
        return []


_pools = _PoolCollector()
REGISTRY.register(_pools)


def watch_pool(service: str, engine: AsyncEngine) -> None:
    """Export ``engine``'s pool as ``agora_db_pool_*{service}`` for as long as the engine lives."""
    _pools.watch(service, engine)


#: Methods outside this set are counted as OTHER so a client cannot mint label values at will.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def metrics_response(names: Collection[str] = ()) -> tuple[bytes, str]:
    """The exposition body and its content type, for a ``/metrics`` endpoint.

    With ``PROMETHEUS_MULTIPROC_DIR`` set (several worker processes), the values are merged from
    every process's files; otherwise the default registry is read directly. ``names``: only
    these samples (``/metrics?name[]=...``, as prometheus_client's own exposition reads it): the
    admin console's sampler asks every service for its four charted metrics every 2 s.
    """
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    if names:
        return generate_latest(registry.restricted_registry(names)), CONTENT_TYPE_LATEST
    return generate_latest(registry), CONTENT_TYPE_LATEST


__all__ = [
    "DURATION_BUCKETS",
    "KNOWN_METHODS",
    "UNMATCHED_ROUTE",
    "circuit_breaker_state",
    "http_client_request_duration_seconds",
    "http_client_requests_total",
    "http_request_duration_seconds",
    "http_requests_in_progress",
    "http_requests_total",
    "metrics_response",
    "preinitialise",
    "watch_pool",
]


def merge_metrics(expositions: Mapping[str, str]) -> tuple[bytes, str]:
    """Merge Prometheus text expositions of several processes into one, adding a ``process``
    label so equal series (``process_cpu_seconds_total``...) stay apart.

    Concatenating the texts would repeat ``# HELP``/``# TYPE`` lines, which Prometheus rejects;
    the parser and a throw-away registry produce one valid exposition instead.
    """
    families: dict[str, Metric] = {}
    for process, text in expositions.items():
        for family in text_string_to_metric_families(text):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                merged.samples.append(sample._replace(labels={**sample.labels, "process": process}))

    class _Merged(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from families.values()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged())
    return generate_latest(registry), CONTENT_TYPE_LATEST
