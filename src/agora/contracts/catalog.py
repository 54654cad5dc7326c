"""What the catalog publishes: event payloads and the product shape clients may rely on.

Other services import these models (never the catalog's tables or internal schemas). Payloads
carry ids plus the facts a consumer needs to act without calling back: a recommender can index
a product from ``catalog.product.created`` alone, a cart can re-price from ``updated``.

Compatibility rule: fields are only ever added (with defaults); a removed or retyped field is
a new event type. Consumers should ignore fields they do not know (``extra="ignore"``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from agora.contracts.base import Event

#: Event types, stable strings (topic ``catalog``).
PRODUCT_CREATED = "catalog.product.created"
PRODUCT_UPDATED = "catalog.product.updated"
PRODUCT_DELETED = "catalog.product.deleted"

#: The CloudEvents ``source`` of every catalog event.
SOURCE = "agora/catalog"

#: Currencies a price may be expressed in (ISO 4217). The currency service converts between them.
SUPPORTED_CURRENCIES: frozenset[str] = frozenset(
    {"USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "PLN", "NZD"}
)


def supported_currency(value: str) -> str:
    """Pydantic after-validator: one of :data:`SUPPORTED_CURRENCIES`."""
    if value not in SUPPORTED_CURRENCIES:
        raise ValueError(f"must be one of {', '.join(sorted(SUPPORTED_CURRENCIES))}")
    return value


#: A supported currency's code; the JSON schema lists them (an enum, not a pattern that would call
#: any three capitals valid).
CurrencyCode = Annotated[
    str,
    AfterValidator(supported_currency),
    WithJsonSchema({"type": "string", "enum": sorted(SUPPORTED_CURRENCIES), "description": "ISO 4217 code."}),
]


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Money(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """An amount in the currency's minor units (cents; yen have none)."""

    amount: int
    currency: str = Field(min_length=3, max_length=3)


#: ISO 4217 currencies without minor units (the rest sold here have two)
_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "HUF"})
_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "CAD": "CA$", "AUD": "A$"}


def format_money(amount: int, currency: str) -> str:
    """Minor units as a shopper reads a price in English: ``$1,299.99``, ``€5.00``, ``¥1,500``.

    Every page and message formats money through this, so an order's total reads the same in its
    notification, its email and its page (Babel would add locale data for one locale we speak).
    """
    code = currency.upper()
    exponent = 0 if code in _ZERO_DECIMAL else 2
    sign = "-" if amount < 0 else ""
    value = Decimal(abs(amount)).scaleb(-exponent)
    return f"{sign}{_SYMBOL.get(code, code + ' ')}{value:,.{exponent}f}"


class CategoryRef(_Contract):
    id: str
    slug: str
    name: str


class Product(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """A product as the catalog API returns it (``GET /api/catalog/products/{id}``)."""

    id: str
    sku: str
    name: str
    description: str
    price: Money
    category: CategoryRef
    tags: list[str]
    images: list[str]
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ProductCreated(Event):
    """``catalog.product.created``: the whole product, as it was created."""

    event_type: ClassVar[str] = PRODUCT_CREATED

    product: Product
    demo: bool = False
    """True for products the demo seed inserted (inventory gives them demo stock; real ones start at 0)."""


class ProductUpdated(Event):
    """``catalog.product.updated``: the product after the change and which fields changed."""

    event_type: ClassVar[str] = PRODUCT_UPDATED

    product: Product
    changed: list[str]
    previous_sku: str | None = None
    """The sku before this change, when ``sku`` is among ``changed`` (stock follows the product)."""


class ProductDeleted(Event):
    """``catalog.product.deleted``: the product is withdrawn (soft-deleted: ``active`` is now false)."""

    event_type: ClassVar[str] = PRODUCT_DELETED

    id: str
    sku: str
    version: int
    mode: Literal["soft"] = "soft"


__all__ = [
    "PRODUCT_CREATED",
    "PRODUCT_DELETED",
    "PRODUCT_UPDATED",
    "SOURCE",
    "SUPPORTED_CURRENCIES",
    "CategoryRef",
    "CurrencyCode",
    "Money",
    "Product",
    "ProductCreated",
    "ProductDeleted",
    "ProductUpdated",
    "format_money",
    "supported_currency",
]
