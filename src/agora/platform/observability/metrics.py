"""Prometheus RED metrics for inbound and outbound HTTP, plus circuit breaker state.

The metric objects are module-level on purpose: the Prometheus registry is process-global and a
metric may be registered once, so every app in the process (embedded mode runs them all) shares
these and tells itself apart by the ``service``/``target`` label.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

#: 5 ms to 10 s: a cached read lands in the first buckets, a slow payment call in the last.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

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

#: Methods outside this set are counted as OTHER so a client cannot mint label values at will.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def metrics_response() -> tuple[bytes, str]:
    """The exposition body and its content type, for a ``/metrics`` endpoint.

    With ``PROMETHEUS_MULTIPROC_DIR`` set (several worker processes), the values are merged from
    every process's files; otherwise the default registry is read directly.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


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
