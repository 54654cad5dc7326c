"""The payments service: card charges and refunds behind ``Idempotency-Key``, a simulated card
network with documented test cards, ``payments.payment.*`` events. It never stores a card number.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.faults import BROKER_PUBLISH_FAILURES, PAYMENT_FAILURES, PAYMENT_LATENCY
from agora.platform.service import ServiceSpec
from agora.services.payments.endpoints import router
from agora.services.payments.handlers import consumers, periodic
from agora.services.payments.models import metadata
from agora.services.payments.port import DirectPayments
from agora.services.payments.runtime import start
from agora.services.payments.settings import PaymentsSettings

spec = ServiceSpec(
    name="payments",
    title="Agora payments",
    settings_cls=PaymentsSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    consumers=consumers,
    periodic=periodic,
    fault_flags=(PAYMENT_LATENCY, PAYMENT_FAILURES, BROKER_PUBLISH_FAILURES),
    port=DirectPayments,
)

__all__ = ["PaymentsSettings", "spec"]
