"""The orders' business metrics (process-global, like every Prometheus metric; see the chassis's).

``outcome`` is a failure code or ``paid``; codes are a closed set written in ``saga.py``, so
clients cannot mint label values.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from agora.contracts.catalog import SUPPORTED_CURRENCIES
from agora.platform.observability.metrics import preinitialise
from agora.services.orders.status import Status

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

orders_total = Counter(
    "agora_orders_total",
    "Orders that entered each status (pending when placed, then paid, failed, shipped, delivered, cancelled), "
    "counted after the change committed.",
    ("status",),
)

#: the outcomes a checkout ends in most (the rest of the failure codes of saga/_outcomes.py appear
#: when they first happen): a label value of each is exported at zero from the start
CHECKOUT_OUTCOMES = (
    "paid",
    "card_declined",
    "card_refused",
    "out_of_stock",
    "payments_unavailable",
    "payment_provider_error",
    "inventory_unavailable",
    "cart_unavailable",
    "empty_cart",
    "settling",
    "error",
)

preinitialise(checkouts_total, *CHECKOUT_OUTCOMES)
preinitialise(checkout_duration_seconds, "paid", "failed")
preinitialise(revenue_minor_total, *sorted(SUPPORTED_CURRENCIES))
preinitialise(orders_total, *(status.value for status in Status))
