"""Request and response models of the shipping API (never the table).

Requests are strict: unknown fields are refused and JSON types are not coerced (``"2"`` is not
a quantity). Free text (name, street, city) is one line without control characters or lone
surrogates, so bad input is a 422 naming the field, never a 500 from a database driver.
The country must be an assigned ISO 3166-1 alpha-2 code in capitals (``US``, not ``us`` or ``USA``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from agora.contracts.catalog import CurrencyCode
from agora.contracts.shipping import CountryCode, Quote, Shipment
from agora.platform.validation import OneLine, StrictRequest
from agora.services.shipping.models import ORDER_ID_LENGTH

MAX_QUANTITY = 10_000
MAX_ITEMS = 100
SKU_LENGTH = 64
TEXT_LENGTH = 200


Text = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_LENGTH), OneLine]
Country = CountryCode
# as lenient as orders' checkout form (a code orders accepted must not fail here): 1-20 characters
PostalCode = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$")]
Sku = Annotated[
    str, StringConstraints(min_length=1, max_length=SKU_LENGTH, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
]
OrderId = Annotated[
    str, StringConstraints(min_length=1, max_length=ORDER_ID_LENGTH, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*)$")
]


class _Request(StrictRequest):
    pass


class Address(_Request):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """Where to: the country and postal code price it; the rest goes on the label."""

    country: Country
    postal_code: PostalCode
    city: Text | None = None
    region: Text | None = None
    line1: Text | None = None
    line2: Text | None = None
    name: Text | None = Field(default=None, description="The recipient (orders sends the shipping name).")


class ShipmentAddress(Address):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """A label needs a street and a city, which a quote does not."""

    city: Text
    line1: Text


class Item(_Request):
    sku: Sku
    quantity: int = Field(ge=1, le=MAX_QUANTITY, description="1 to 10,000 units.")


Items = Annotated[list[Item], Field(min_length=1, max_length=MAX_ITEMS, description="1 to 100 item lines.")]


class QuoteRequest(_Request):
    address: Address
    items: Items
    currency: CurrencyCode | None = Field(
        default=None,
        description="The order's currency, if known. Quotes are always in USD whatever it is: convert "
        "with GET /api/currency/convert. Validated so a typo is a 422, not silently ignored.",
    )


class ShipmentCreate(_Request):
    order_id: OrderId
    address: ShipmentAddress
    items: Items


# -- responses (documentation: the endpoints render JSON directly, see endpoints.py) ---------------

QuoteOut = Quote


class ShipmentOut(Shipment):
    address: dict[str, str]
    items: list[dict[str, str | int]]


class ShipmentPage(BaseModel):
    items: list[ShipmentOut]
    next_cursor: str | None = None
