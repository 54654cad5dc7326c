"""Request and response models of the payments API (never the tables).

The card model validates with the pure functions of :mod:`.cards`, one field validator per card
field, so a bad card is a 422 naming ``body.card.number``, ``body.card.exp_month``,
``body.card.exp_year`` or ``body.card.cvc``. It never echoes what was sent: messages are fixed
texts, ``hide_input_in_errors`` keeps the input out of error representations, and the number
and CVC are left out of the model's repr, so neither reaches a response or a log line.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from agora.contracts.catalog import CurrencyCode
from agora.contracts.payments import CardBrand, Charge, ChargePage
from agora.platform.validation import StrictRequest
from agora.services.payments import cards
from agora.services.payments.models import EXTERNAL_ID_LENGTH

#: 1,000,000,000.00 in a two-decimal currency: a checkout bigger than this is a bug, not an order.
MAX_AMOUNT = 100_000_000_000
#: Room for a 19-digit number typed with separators, and no more.
MAX_NUMBER_LENGTH = 32
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


def _today() -> date:
    return datetime.now(UTC).date()


ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=EXTERNAL_ID_LENGTH, pattern=EXTERNAL_ID_PATTERN)]


class _Request(StrictRequest):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)


class MoneyIn(_Request):
    amount: int = Field(gt=0, le=MAX_AMOUNT, description="Minor units (cents), at least 1.")
    currency: CurrencyCode = Field(description="ISO 4217 code of a supported currency.")


class CardIn(_Request):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """A card as typed at checkout. Fields validate in declaration order, which matters: the CVC's
    length depends on the brand the number gives, and the month is checked against the year."""

    # the document states each field's shape (schemathesis generates from it); the validators below
    # still give each refusal its own words, and check what the document does not: the number's
    # digits and Luhn checksum (a pattern counting digits among separators within 32 characters
    # leaves a generator filtering nearly all it makes), the expiry against today, the CVC's
    # length for the number's brand
    number: str = Field(
        min_length=1, max_length=MAX_NUMBER_LENGTH, repr=False, description="12-19 digits; spaces and dashes allowed."
    )
    exp_year: int = Field(
        description="Four digits; the card is good through the end of the month.",
        json_schema_extra={"minimum": 1000, "maximum": 9999},
    )
    exp_month: int = Field(description="1-12.", json_schema_extra={"minimum": 1, "maximum": 12})
    cvc: str = Field(
        min_length=1,
        max_length=4,
        repr=False,
        description="3 digits (4 for American Express).",
        json_schema_extra={"pattern": "^[0-9]{3,4}$"},
    )

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        return cards.normalize_number(value)

    @field_validator("exp_year")
    @classmethod
    def _exp_year(cls, value: int) -> int:
        return cards.check_exp_year(value, _today())

    @field_validator("exp_month")
    @classmethod
    def _exp_month(cls, value: int, info: ValidationInfo) -> int:
        year = info.data.get("exp_year")
        if year is None:  # the year was refused already: check the month alone
            return cards.check_exp_month(value)
        cards.check_expiry(value, year, _today())
        return value

    @field_validator("cvc")
    @classmethod
    def _cvc(cls, value: str, info: ValidationInfo) -> str:
        number = info.data.get("number")
        return cards.check_cvc(value, cards.brand_of(number) if number else None)

    @property
    def brand(self) -> CardBrand:
        return cards.brand_of(self.number)

    @property
    def last4(self) -> str:
        return cards.last4(self.number)


class ChargeCreate(_Request):
    order_id: ExternalId
    user_id: ExternalId
    amount: MoneyIn
    card: CardIn


# -- responses (documentation: the endpoints render JSON directly, see endpoints.py) ---------------

ChargeOut = Charge
ChargePageOut = ChargePage
