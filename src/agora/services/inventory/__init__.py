"""The inventory service: stock per sku, reservations that expire, commit and release.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
Stock rows come from the catalog's ``catalog.product.created`` events (see :mod:`.handlers`), so
inventory has no seed of its own; the expiry sweep runs as a periodic task (:mod:`.tasks`).
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.service import ServiceSpec
from agora.services.inventory.endpoints import router
from agora.services.inventory.handlers import consumers
from agora.services.inventory.models import metadata
from agora.services.inventory.port import DirectInventory
from agora.services.inventory.runtime import start
from agora.services.inventory.settings import InventorySettings
from agora.services.inventory.tasks import periodic

spec = ServiceSpec(
    name="inventory",
    title="Agora inventory",
    settings_cls=InventorySettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    consumers=consumers,
    periodic=periodic,
    port=DirectInventory,
)

__all__ = ["InventorySettings", "spec"]
