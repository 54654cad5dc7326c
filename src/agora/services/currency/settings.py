"""``CurrencySettings``: the currency service's own knobs, from ``AGORA_CURRENCY_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agora.platform.settings import ServiceSettings


class CurrencySettings(ServiceSettings):
    service_name: ClassVar[str] = "currency"

    model_config = SettingsConfigDict(
        env_prefix="AGORA_CURRENCY_",
        env_nested_delimiter="__",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    port: int = Field(default=8105, ge=1, le=65535)
