"""``ShippingSettings``: the shipping service's own knobs, from ``AGORA_SHIPPING_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class ShippingSettings(ServiceSettings):
    service_name: ClassVar[str] = "shipping"

    port: int = Field(default=8106, ge=1, le=65535)
