"""Prometheus metrics of the messaging chassis.

Module-level on purpose: prometheus_client's default registry is process-wide, and every
relay and consumer in the process adds to the same series, distinguished by labels.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
CONSUMER_LAG = Gauge(
    "agora_consumer_lag_seconds", "Now minus the time of the last event a consumer received.", ["consumer"]
)
