"""Request and response models of the currency API (never the table).

A rate is accepted as a JSON string (``"0.92"``, preferred: exact) or a JSON number (``0.92``,
read from its decimal text, never through a binary float); either way it must be positive and
fit ``Numeric(20, 10)``: at most 10 digits after the point and 20 in all. ``NaN``, infinities,
booleans and exponents that leave more than 10 decimals are refused, naming the field.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from agora.contracts.currency import Conversion, Currency, CurrencyList
from agora.services.currency.conversion import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS


class RateUpdate(BaseModel):
    # not strict: strict mode would take a Decimal instance only, and JSON has strings and numbers
    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_per_usd: Decimal = Field(
        gt=0,
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        description="Units of the currency per US dollar: a decimal string (exact) or a number; > 0, "
        "at most 10 decimal places and 20 digits.",
        examples=["0.92", "151.5"],
    )


# -- responses (documentation: the endpoints render JSON directly, see endpoints.py) ---------------

ConversionOut = Conversion


class CurrencyOut(Currency):
    updated_at: datetime
    updated_by: str


class CurrencyPage(CurrencyList):
    items: list[CurrencyOut]
