"""The payments business numbers, for Prometheus (process-global, like every metric object).

Counted once per effect, after its commit: a replayed Idempotency-Key answer counts nothing.
"""

from __future__ import annotations

from prometheus_client import Counter

from agora.contracts.catalog import SUPPORTED_CURRENCIES
from agora.platform.observability.metrics import preinitialise

charges_total = Counter(
    "agora_payments_charges_total",
    "Charge attempts by outcome: captured, declined, provider_error.",
    ("outcome",),
)
amount_minor_total = Counter(
    "agora_payments_amount_minor_total",
    "Money captured, in minor units of each currency (refunds are not subtracted).",
    ("currency",),
)
refunds_total = Counter(
    "agora_payments_refunds_total",
    "Charges refunded, by currency.",
    ("currency",),
)

preinitialise(charges_total, "captured", "declined", "provider_error")
preinitialise(amount_minor_total, *sorted(SUPPORTED_CURRENCIES))
preinitialise(refunds_total, *sorted(SUPPORTED_CURRENCIES))
