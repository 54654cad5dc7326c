"""The catalog service: products, categories, full-text search, admin CRUD, ``catalog.product.*`` events.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.faults import BROKER_PUBLISH_FAILURES, CATALOG_LATENCY
from agora.platform.service import ServiceSpec
from agora.services.catalog.endpoints import router
from agora.services.catalog.handlers import consumers
from agora.services.catalog.models import metadata
from agora.services.catalog.port import DirectCatalog
from agora.services.catalog.runtime import start
from agora.services.catalog.seed import seed
from agora.services.catalog.settings import CatalogSettings

spec = ServiceSpec(
    name="catalog",
    title="Agora catalog",
    settings_cls=CatalogSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    seed=seed,
    consumers=consumers,
    # product images that are media ids are checked with media on create and update
    depends_on=("media",),
    fault_flags=(CATALOG_LATENCY, BROKER_PUBLISH_FAILURES),
    port=DirectCatalog,
)

__all__ = ["CatalogSettings", "spec"]
