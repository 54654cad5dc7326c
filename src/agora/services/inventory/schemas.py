"""Request and response models of the inventory API (never the tables).

The reservation shapes other services send and read live in :mod:`agora.contracts.inventory`;
this module re-exports them for the endpoints and adds what only inventory's own clients use.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agora.contracts.inventory import Reservation, ReservationRequest, StockLevel
from agora.platform.validation import StrictRequest

#: The largest count an admin may set: far above any real warehouse, far below the column's limit.
MAX_ON_HAND = 1_000_000_000
#: Skus one batch read may ask for.
MAX_BATCH_SKUS = 100


class StockSet(StrictRequest):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``PUT /api/inventory/stock/{sku}``: the counted units on hand."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    on_hand: int = Field(ge=0, le=MAX_ON_HAND, description=f"Units on hand, 0 to {MAX_ON_HAND:,}.")


class StockPage(BaseModel):
    items: list[StockLevel]
    next_cursor: str | None = None


ReservationOut = Reservation

__all__ = [
    "MAX_BATCH_SKUS",
    "MAX_ON_HAND",
    "ReservationOut",
    "ReservationRequest",
    "StockLevel",
    "StockPage",
    "StockSet",
]
