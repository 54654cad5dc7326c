"""Prometheus metrics of the messaging chassis.

Module-level on purpose: prometheus_client's default registry is process-wide, and every
relay and consumer in the process adds to the same series, distinguished by labels. The labels
are a closed set: a source is ``agora/<service>``, a consumer a group named in code, a type an
event type a handler is registered for. Each series is created at zero when its relay or
consumer starts (:func:`preinitialise_outbox`, :func:`preinitialise_consumer`), so ``rate()``
and ``absent()`` work from the first scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agora.platform.observability.metrics import preinitialise

#: a handler runs one transaction of a few statements (1-50 ms); retries with backoff take seconds
HANDLING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

OUTBOX_PUBLISHED = Counter("agora_outbox_published", "Outbox events the broker accepted.", ["source"])
OUTBOX_PENDING = Gauge("agora_outbox_pending", "Outbox events committed but not yet published.", ["source"])
OUTBOX_PUBLISH_FAILURES = Counter(
    "agora_outbox_publish_failures", "Relay batches the broker refused or could not take."
)
EVENTS_CONSUMED = Counter(
    "agora_events_consumed",
    "Events a consumer finished with, by outcome (handled, duplicate, dead_lettered, ignored).",
    ["consumer", "type", "outcome"],
)
HANDLER_FAILURES = Counter(
    "agora_event_handler_failures", "Handler attempts that raised (each retry counts).", ["consumer", "type"]
)
HANDLING_DURATION = Histogram(
    "agora_event_handling_duration_seconds",
    "Time from receiving an event to being done with it (retries included), per consumer.",
    ["consumer"],
    buckets=HANDLING_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "agora_consumer_lag_seconds", "Now minus the time of the last event a consumer received.", ["consumer"]
)
CONSUMER_BACKLOG = Gauge(
    "agora_consumer_backlog_events",
    "Events of a consumer's topics it has not acknowledged yet (brokers that can tell: NATS, Redis, memory).",
    ["consumer"],
)
DEAD_LETTERS = Gauge(
    "agora_dead_letters",
    "Dead-lettered events of a consumer waiting in the dead_letters table (not replayed).",
    ["consumer"],
)


class _OldestUnsent(Collector):
    """``agora_outbox_oldest_unsent_age_seconds``: computed at each scrape from the creation time of
    the oldest unpublished row the relay last counted, so the age keeps growing while the relay is
    stuck (a gauge set by the relay would freeze exactly when the relay stops running)."""

    def __init__(self) -> None:
        self.oldest: dict[str, datetime | None] = {}

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "agora_outbox_oldest_unsent_age_seconds",
            "Age of the oldest outbox event not yet published (0 when none waits).",
            labels=["source"],
        )
        now = datetime.now(UTC)
        for source, oldest in sorted(self.oldest.items()):
            family.add_metric([source], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield family

    def describe(self) -> Iterable[Metric]:
        return []


_oldest_unsent = _OldestUnsent()
REGISTRY.register(_oldest_unsent)


def record_outbox(source: str, pending: int, oldest: datetime | None) -> None:
    """What the relay counted in the outbox for ``source``: ``pending`` rows, the oldest created at ``oldest``."""
    OUTBOX_PENDING.labels(source=source).set(pending)
    _oldest_unsent.oldest[source] = oldest.replace(tzinfo=UTC) if oldest and oldest.tzinfo is None else oldest


def preinitialise_outbox(source: str) -> None:
    preinitialise(OUTBOX_PUBLISHED, source)
    if source not in _oldest_unsent.oldest:
        record_outbox(source, 0, None)


def preinitialise_consumer(consumer: str, event_types: Iterable[str], outcomes: Iterable[str]) -> None:
    """Every series of ``consumer`` at zero: per event type it handles, each of ``outcomes``."""
    types = sorted(event_types)
    outcomes = list(outcomes)
    preinitialise(EVENTS_CONSUMED, *((consumer, type_, outcome) for type_ in types for outcome in outcomes))
    preinitialise(HANDLER_FAILURES, *((consumer, type_) for type_ in types))
    preinitialise(HANDLING_DURATION, consumer)
    preinitialise(CONSUMER_LAG, consumer)
    preinitialise(DEAD_LETTERS, consumer)
