"""``CurrencySettings``: the currency service's own knobs, from ``AGORA_CURRENCY_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class CurrencySettings(ServiceSettings):
    service_name: ClassVar[str] = "currency"

    port: int = Field(default=8105, ge=1, le=65535)
