"""``OrdersSettings``: the saga's timings, from ``AGORA_ORDERS_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    service_name: ClassVar[str] = "orders"

    port: int = Field(default=8108, ge=1, le=65535)

    lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    """How long the process driving a saga owns it; recovery takes over orders whose lease lapsed."""
    recovery_interval: float = Field(default=10.0, gt=0, le=3600)
    """Seconds between recovery sweeps (the first runs at start-up)."""
    recovery_batch: int = Field(default=50, ge=1, le=1000)
    reservation_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    """Stock is held this long for an unfinished checkout; inventory releases it afterwards."""
    checkout_concurrency: int | None = Field(default=None, ge=1, le=1000)
    """Checkouts this process runs at once; more wait their turn (at most
    ``AGORA_DATABASE_POOL_QUEUE`` of them, then 503). Default: the orders pool's size."""
    max_lines: int = Field(default=50, ge=1, le=500)
    """Carts with more lines are refused at checkout."""
