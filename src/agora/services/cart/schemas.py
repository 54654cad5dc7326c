"""Request and response models of the cart API (never the table).

Requests are strict like the catalog's: unknown fields are refused and JSON types are not
coerced (``"2"`` is not a quantity). Ids are canonical lowercase UUIDs (what the catalog and the
cart hand out), so anything else is a 422 naming the field before a store or the catalog is
asked. The quantity ceiling here is the widest the settings allow; the configured per-line
bound (99 by default) is the store's, checked atomically with the write.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from agora.contracts.cart import Cart, CartLine
from agora.platform.validation import StrictRequest

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
#: The widest quantity any configuration accepts (``CartSettings.max_quantity`` is at most this).
QUANTITY_CEILING = 10_000
#: Identity's user ids are UUIDs; service subjects and test users are short words. Nothing else.
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"

Uuid = Annotated[str, StringConstraints(min_length=36, max_length=36, pattern=UUID_PATTERN)]
#: the per-line bound of the default settings, which the document states (validation takes the
#: widest any configuration allows; the configured bound is checked with the write)
DEFAULT_MAX_QUANTITY = 99
Quantity = Annotated[
    int,
    Field(
        ge=1,
        le=QUANTITY_CEILING,
        description="How many; 1 up to the per-line bound (99 by default).",
        json_schema_extra={"maximum": DEFAULT_MAX_QUANTITY},
    ),
]


class _Request(StrictRequest):
    pass


class ItemAdd(_Request):
    product_id: Uuid = Field(description="The catalog product's id.")
    quantity: Quantity = 1


class ItemUpdate(_Request):
    quantity: Quantity


class CartMerge(_Request):
    cart_id: Uuid = Field(description="The anonymous cart's id (from X-Cart-Id or the agora_cart cookie).")


CartOut = Cart
CartLineOut = CartLine

__all__ = ["QUANTITY_CEILING", "UUID_PATTERN", "CartMerge", "CartOut", "ItemAdd", "ItemUpdate", "Uuid"]
