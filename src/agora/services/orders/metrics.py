"""The orders' business metrics (process-global, like every Prometheus metric; see the chassis's).

``outcome`` is a failure code or ``paid``; codes are a closed set written in ``saga.py``, so
clients cannot mint label values.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

checkouts_total = Counter(
    "agora_orders_checkouts_total",
    "Checkouts that ended, by outcome (paid, or the failure code: card_declined, out_of_stock...).",
    ("outcome",),
)
revenue_minor_total = Counter(
    "agora_orders_revenue_minor_total",
    "Revenue of paid orders in minor units of their currency (refunds of cancellations not deducted).",
    ("currency",),
)
checkout_duration_seconds = Histogram(
    "agora_orders_checkout_duration_seconds",
    "Time a checkout request took, from the request to its answer (the whole saga).",
    ("outcome",),
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0),
)
saga_step_failures_total = Counter(
    "agora_orders_saga_step_failures_total",
    "Saga steps that failed, by step and failure code (compensation followed, or recovery will).",
    ("step", "code"),
)
recovered_total = Counter(
    "agora_orders_recovered_total",
    "Unfinished sagas taken over by recovery after their lease lapsed, by how they ended.",
    ("outcome",),
)
