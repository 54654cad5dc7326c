"""``CartSettings``: the cart's bounds, lifetimes and store, from ``AGORA_CART_*``."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings

DAY = 24 * 3600


class StoreKind(StrEnum):
    """Where carts live: ``auto`` is Redis when ``AGORA_REDIS_URL`` is set, else the SQL database."""

    auto = "auto"
    redis = "redis"
    sql = "sql"


class CartSettings(ServiceSettings):
    service_name: ClassVar[str] = "cart"

    port: int = Field(default=8104, ge=1, le=65535)

    max_quantity: int = Field(default=99, ge=1, le=10_000)
    """The most of one product a cart line may hold."""
    max_lines: int = Field(default=50, ge=1, le=1_000)
    """The most distinct products one cart may hold."""
    anonymous_ttl_seconds: int = Field(default=7 * DAY, ge=60, le=365 * DAY)
    """An anonymous cart is forgotten this long after its last change."""
    user_ttl_seconds: int = Field(default=30 * DAY, ge=60, le=365 * DAY)
    """A signed-in user's cart is forgotten this long after its last change."""
    default_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    """The currency of an empty cart's zero subtotal."""

    store: StoreKind = StoreKind.auto
    redis_key_prefix: str = Field(default="agora:cart:", min_length=1, max_length=100)
    """Each cart is one hash at ``<prefix><owner>``."""
    redis_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    """Connect and command timeout: a Redis that hangs answers 503 instead of holding the request."""
    sweep_interval_seconds: float = Field(default=3600.0, ge=1, le=7 * DAY)
    """How often the SQL store deletes expired carts (Redis expires them by itself)."""
