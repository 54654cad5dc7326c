"""What inventory publishes and accepts: event payloads, the reservation request and the shapes it returns.

Orders imports :class:`ReservationRequest` to reserve stock during checkout and reads
:class:`Reservation` back; the storefront reads :class:`StockLevel`. Payloads carry the
reservation id and its lines, so a consumer (analytics, say) can account for stock without
calling back.

Compatibility rule (as for every contract): fields are only ever added, with defaults; a
removed or retyped field is a new event type. Consumers ignore fields they do not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from agora.contracts.base import Contract, Event

#: Event types, stable strings (topic ``inventory``).
STOCK_RESERVED = "inventory.stock.reserved"
STOCK_COMMITTED = "inventory.stock.committed"
STOCK_RELEASED = "inventory.stock.released"
STOCK_UPDATED = "inventory.stock.updated"

#: The CloudEvents ``source`` of every inventory event.
SOURCE = "agora/inventory"

SKU_LENGTH = 64
#: The catalog's sku alphabet: upper-case letters, digits and inner dashes.
SKU_PATTERN = r"^[A-Z0-9](?:[A-Z0-9-]{0,62}[A-Z0-9])?$"
RESERVATION_ID_LENGTH = 36
RESERVATION_ID_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_.:-]{0,34}[A-Za-z0-9])?$"

#: Bounds of one reservation: a line's quantity, the number of lines, and how long it may be held.
MAX_QUANTITY = 10_000
MAX_ITEMS = 100
MIN_TTL_SECONDS = 1
MAX_TTL_SECONDS = 3600

ReservationStatus = Literal["held", "committed", "released", "expired"]
ReleaseReason = Literal["expired", "released", "restocked"]

Sku = Annotated[str, StringConstraints(min_length=1, max_length=SKU_LENGTH, pattern=SKU_PATTERN)]
ReservationId = Annotated[
    str, StringConstraints(min_length=1, max_length=RESERVATION_ID_LENGTH, pattern=RESERVATION_ID_PATTERN)
]


class _Request(BaseModel):
    # requests are strict: "3" is not a quantity, an unknown field is a mistake worth a 422
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ReservationItem(_Request):
    sku: Sku
    quantity: int = Field(ge=1, le=MAX_QUANTITY, description=f"Units to hold, 1 to {MAX_QUANTITY:,}.")


class ReservationRequest(_Request):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``POST /api/inventory/reservations``: hold these units until committed, released or expired.

    ``reservation_id`` is the caller's (orders uses the order id), which makes the call
    idempotent: the same id again answers the reservation already made.
    """

    reservation_id: ReservationId
    items: list[ReservationItem] = Field(min_length=1, max_length=MAX_ITEMS)
    ttl_seconds: int | None = Field(
        default=None,
        ge=MIN_TTL_SECONDS,
        le=MAX_TTL_SECONDS,
        description="How long the units stay held; the service default (15 minutes) when absent.",
    )

    @field_validator("items")
    @classmethod
    def _one_line_per_sku(cls, items: list[ReservationItem]) -> list[ReservationItem]:
        skus = [item.sku for item in items]
        if len(set(skus)) != len(skus):
            repeated = sorted({sku for sku in skus if skus.count(sku) > 1})
            raise ValueError(f"each sku may appear once; repeated: {', '.join(repeated)}")
        return items


class ReservedItem(Contract):
    sku: str
    quantity: int


class Reservation(Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """A reservation as the API returns it."""

    id: str
    status: ReservationStatus
    expires_at: datetime
    items: list[ReservedItem]


class StockLevel(Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``GET /api/inventory/stock/{sku}``: ``available`` is what can still be reserved."""

    sku: str
    on_hand: int
    reserved: int
    available: int


class StockReserved(Event):
    """``inventory.stock.reserved``: units are held for ``reservation_id`` until ``expires_at``."""

    event_type: ClassVar[str] = STOCK_RESERVED

    reservation_id: str
    items: list[ReservedItem]
    expires_at: datetime


class StockCommitted(Event):
    """``inventory.stock.committed``: the held units left the warehouse (on hand went down)."""

    event_type: ClassVar[str] = STOCK_COMMITTED

    reservation_id: str
    items: list[ReservedItem]


class StockReleased(Event):
    """``inventory.stock.released``: the units are available again.

    ``reason``: ``released`` (a held reservation given back), ``expired`` (the sweep gave it back),
    ``restocked`` (a committed reservation cancelled: the units went back on hand).
    """

    event_type: ClassVar[str] = STOCK_RELEASED

    reservation_id: str
    items: list[ReservedItem]
    reason: ReleaseReason


class StockUpdated(StockLevel, Event):
    """``inventory.stock.updated``: a sku's stock row was created or its on-hand count set."""

    event_type: ClassVar[str] = STOCK_UPDATED

    version: int


__all__ = [
    "MAX_ITEMS",
    "MAX_QUANTITY",
    "MAX_TTL_SECONDS",
    "MIN_TTL_SECONDS",
    "SOURCE",
    "STOCK_COMMITTED",
    "STOCK_RELEASED",
    "STOCK_RESERVED",
    "STOCK_UPDATED",
    "ReleaseReason",
    "Reservation",
    "ReservationId",
    "ReservationItem",
    "ReservationRequest",
    "ReservationStatus",
    "ReservedItem",
    "Sku",
    "StockCommitted",
    "StockLevel",
    "StockReleased",
    "StockReserved",
    "StockUpdated",
]
