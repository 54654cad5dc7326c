"""Request and response models of the orders API (never the tables).

The checkout body is strict (unknown fields refused, no type coercion) and the card is checked
here - digits only, Luhn, a month 1-12, an expiry not in the past, a 3-4 digit CVC - so a typo
is a 422 naming ``body.card.number`` before any order, reservation or charge exists. Payments
checks again (it is the authority); this check keeps bad input from creating failed orders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from agora.contracts.catalog import CurrencyCode
from agora.contracts.orders import Order as OrderOut
from agora.contracts.payments import luhn_valid
from agora.contracts.shipping import CountryCode
from agora.platform.validation import OneLine, StrictRequest

MAX_CARD_YEARS = 20


def _card_number(value: str) -> str:
    digits = value.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise ValueError("must be 12 to 19 digits")
    if not luhn_valid(digits):
        raise ValueError("is not a valid card number (checksum)")
    return digits


Name = Annotated[str, StringConstraints(min_length=1, max_length=100), OneLine]
Line = Annotated[str, StringConstraints(min_length=1, max_length=200), OneLine]
City = Annotated[str, StringConstraints(min_length=1, max_length=100), OneLine]
CardNumber = Annotated[str, StringConstraints(min_length=12, max_length=23), AfterValidator(_card_number)]
Country = CountryCode
PostalCode = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$")]


class _Request(StrictRequest):
    pass


class ShippingAddressIn(_Request):
    name: Name
    line1: Line
    city: City
    postal_code: PostalCode
    country: Country = Field(description="ISO 3166-1 alpha-2, upper case (DE, US).")


class CardIn(_Request):
    number: CardNumber
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: Annotated[str, StringConstraints(pattern=r"^[0-9]{3,4}$")]

    @field_validator("exp_year")
    @classmethod
    def _not_expired(cls, year: int, info: ValidationInfo) -> int:
        # exp_year is declared after exp_month, so a valid month is in info.data already
        now = datetime.now(UTC)
        month = info.data.get("exp_month", 12)
        if (year, month) < (now.year, now.month):
            raise ValueError("the card has expired")
        if year > now.year + MAX_CARD_YEARS:
            raise ValueError("is too far in the future")
        return year


class CheckoutIn(_Request):
    currency: CurrencyCode = Field(description="The currency the order is priced and charged in.")
    shipping_address: ShippingAddressIn
    card: CardIn


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None = None


__all__ = ["CardIn", "CheckoutIn", "OrderOut", "OrderPage", "ShippingAddressIn", "luhn_valid"]
