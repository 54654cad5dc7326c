"""``InventorySettings``: reservation lifetimes and the expiry sweep, from ``AGORA_INVENTORY_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from agora.contracts.inventory import MAX_TTL_SECONDS, MIN_TTL_SECONDS
from agora.platform.settings import ServiceSettings


class InventorySettings(ServiceSettings):
    service_name: ClassVar[str] = "inventory"

    port: int = Field(default=8103, ge=1, le=65535)

    reservation_ttl_seconds: int = Field(default=900, ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)
    """How long units stay held when the request names no ``ttl_seconds`` (15 minutes)."""
    sweep_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often the expiry sweep looks for held reservations whose time ran out."""
    sweep_batch_size: int = Field(default=100, ge=1, le=10_000)
    """Reservations expired per transaction: small enough to keep locks short."""
    sweep_max_batches: int = Field(default=20, ge=1, le=1_000)
    """Batches per sweep run; the rest waits for the next run, so one run stays bounded."""

    @model_validator(mode="after")
    def _sweep_keeps_up(self) -> InventorySettings:
        # a sweep slower than the TTL would let expired reservations pile up for whole TTLs
        if self.sweep_interval_seconds > self.reservation_ttl_seconds:
            raise ValueError("sweep_interval_seconds must not exceed reservation_ttl_seconds")
        return self
