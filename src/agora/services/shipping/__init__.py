"""The shipping service: quotes by zone, one shipment per order with a tracking id, deliveries.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
It consumes no events and calls no other service: orders calls it.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.service import ServiceSpec
from agora.services.shipping.endpoints import router
from agora.services.shipping.models import metadata
from agora.services.shipping.port import DirectShipping
from agora.services.shipping.runtime import start
from agora.services.shipping.settings import ShippingSettings

spec = ServiceSpec(
    name="shipping",
    title="Agora shipping",
    settings_cls=ShippingSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    port=DirectShipping,
)

__all__ = ["ShippingSettings", "spec"]
