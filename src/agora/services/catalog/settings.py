"""``CatalogSettings``: the catalog's own knobs, from ``AGORA_CATALOG_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agora.platform.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: ClassVar[str] = "catalog"

    model_config = SettingsConfigDict(
        env_prefix="AGORA_CATALOG_",
        env_nested_delimiter="__",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    port: int = Field(default=8101, ge=1, le=65535)
