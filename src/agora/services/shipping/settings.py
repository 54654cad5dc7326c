"""``ShippingSettings``: the shipping service's own knobs, from ``AGORA_SHIPPING_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agora.platform.settings import ServiceSettings


class ShippingSettings(ServiceSettings):
    service_name: ClassVar[str] = "shipping"

    model_config = SettingsConfigDict(
        env_prefix="AGORA_SHIPPING_",
        env_nested_delimiter="__",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    port: int = Field(default=8106, ge=1, le=65535)
