"""``AnalyticsSettings``: the analytics service's knobs, from ``AGORA_ANALYTICS_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    service_name: ClassVar[str] = "analytics"

    port: int = Field(default=8112, ge=1, le=65535)

    forecast_history_days: int = Field(default=365, ge=14, le=3650)
    """How many days of paid units (up to yesterday) the forecast is fitted on."""
    seed_days: int = Field(default=90, ge=14, le=730)
    """Days of synthetic demo history the seed writes (ending yesterday)."""
