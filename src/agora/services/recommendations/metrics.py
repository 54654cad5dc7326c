"""Recommendations' business numbers (Prometheus; module-level: the registry is process-global)."""

from __future__ import annotations

from prometheus_client import Counter

from agora.platform.observability.metrics import preinitialise

served_total = Counter(
    "agora_recommendations_served_total",
    "Recommended items returned, by reason: bought_together, similar, popular.",
    ("reason",),
)
orders_counted_total = Counter(
    "agora_recommendations_orders_counted_total",
    "Paid orders counted into bought-together and popularity (a repeated order is not counted).",
)
model_builds_total = Counter(
    "agora_recommendations_model_builds_total",
    "Times the similarity model was rebuilt from the product table.",
)

preinitialise(served_total, "bought_together", "similar", "popular")
