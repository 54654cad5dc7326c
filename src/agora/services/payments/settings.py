"""``PaymentsSettings``: the payments service's own knobs, from ``AGORA_PAYMENTS_*``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agora.platform.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service_name: ClassVar[str] = "payments"

    model_config = SettingsConfigDict(
        env_prefix="AGORA_PAYMENTS_",
        env_nested_delimiter="__",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    port: int = Field(default=8107, ge=1, le=65535)

    provider: Literal["simulated"] = "simulated"
    """Which card network answers; only the simulated one exists (see ``provider.py``)."""
