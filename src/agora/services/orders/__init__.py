"""The orders service: the checkout saga, order history, the status machine, ``orders.order.*`` events.

Its spec is the only thing the registry needs; everything is built at start-up: the chassis's
context, then orders' runtime (``spec.start``: the ports checkout calls and the saga over them).
Saga recovery runs as a periodic task (at start-up, then every few seconds).
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.faults import BROKER_PUBLISH_FAILURES
from agora.platform.service import ServiceSpec
from agora.services.orders.endpoints import router
from agora.services.orders.handlers import consumers, periodic
from agora.services.orders.models import metadata
from agora.services.orders.runtime import start
from agora.services.orders.settings import OrdersSettings

spec = ServiceSpec(
    name="orders",
    title="Agora orders",
    settings_cls=OrdersSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    consumers=consumers,
    periodic=periodic,
    depends_on=("identity", "cart", "catalog", "currency", "shipping", "inventory", "payments"),
    fault_flags=(BROKER_PUBLISH_FAILURES,),
)

__all__ = ["OrdersSettings", "spec"]
