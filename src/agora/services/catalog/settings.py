"""``CatalogSettings``: the catalog's own knobs, from ``AGORA_CATALOG_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: ClassVar[str] = "catalog"

    port: int = Field(default=8101, ge=1, le=65535)
