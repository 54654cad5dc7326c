"""Shipping's business metrics (module-level: the Prometheus registry is process-global)."""

from __future__ import annotations

from prometheus_client import Counter

from agora.platform.observability.metrics import preinitialise

quotes_total = Counter(
    "agora_shipping_quotes_total",
    "Shipping quotes given, by destination zone.",
    ("zone",),
)
shipments_total = Counter(
    "agora_shipping_shipments_total",
    "Shipments that reached a status (created, delivered), counted once their transaction committed.",
    ("status",),
)

preinitialise(shipments_total, "created", "delivered")
