"""The currency's business metrics (module-level: the Prometheus registry is process-global)."""

from __future__ import annotations

from prometheus_client import Counter

conversions_total = Counter(
    "agora_currency_conversions_total",
    "Amounts converted, by source and target currency (codes come from the rates table only).",
    ("from", "to"),
)
