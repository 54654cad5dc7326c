"""``AdsSettings``: the ads service's own knobs, from ``AGORA_ADS_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class AdsSettings(ServiceSettings):
    service_name: ClassVar[str] = "ads"

    port: int = Field(default=8113, ge=1, le=65535)
