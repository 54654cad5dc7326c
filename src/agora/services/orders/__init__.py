"""The orders service: the checkout saga, order history, the status machine, ``orders.order.*`` events.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
Saga recovery runs as a periodic task (at start-up, then every few seconds).
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.faults import BROKER_PUBLISH_FAILURES
from agora.platform.service import ServiceSpec
from agora.services.orders.endpoints import build_router
from agora.services.orders.handlers import consumers
from agora.services.orders.models import metadata
from agora.services.orders.runtime import start
from agora.services.orders.settings import OrdersSettings
from agora.services.orders.wiring import periodic

spec = ServiceSpec(
    name="orders",
    title="Agora orders",
    settings_cls=OrdersSettings,
    build_router=build_router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    consumers=consumers,
    periodic=periodic,
    depends_on=("identity", "cart", "catalog", "currency", "shipping", "inventory", "payments"),
    fault_flags=(BROKER_PUBLISH_FAILURES,),
)

__all__ = ["OrdersSettings", "spec"]
