"""What payments publishes and answers: event payloads and the charge shape clients may rely on.

Orders (the checkout saga), notifications and analytics import these models, never the payments
tables. No event or answer here carries a card number or a CVC: payments never stores them, so it
cannot publish them either; a card is only ever its brand and last four digits. Only the charge
request (:class:`ChargeRequest`, what the saga sends) holds a whole card, in memory, for one call.

Compatibility rule (as for every contract): fields are only added, with defaults; consumers
ignore fields they do not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agora.contracts.base import Event
from agora.contracts.catalog import Money

#: Event types, stable strings (topic ``payments``).
PAYMENT_CAPTURED = "payments.payment.captured"
PAYMENT_DECLINED = "payments.payment.declined"
PAYMENT_REFUNDED = "payments.payment.refunded"

#: The CloudEvents ``source`` of every payments event.
SOURCE = "agora/payments"

#: Problem ``reason`` values a charge request can fail with (besides validation errors).
REASON_CARD_DECLINED = "card_declined"
REASON_PROVIDER_ERROR = "provider_error"

CardBrand = Literal["visa", "mastercard", "amex", "discover", "other"]
ChargeStatus = Literal["captured", "declined", "refunded"]


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every card number carries in its last digit (``digits``: 0-9 only).

    Shared so the checkout form (orders) refuses a mistyped number with the same rule payments
    applies, without a round trip.
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CardSummary(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """What is kept of a card: enough for a receipt ("Visa ending 4242"), never enough to charge it."""

    brand: CardBrand
    last4: str
    exp_month: int
    exp_year: int


class Refund(_Contract):
    id: str
    amount: Money
    created_at: datetime


class Charge(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """A charge as ``/api/payments/charges`` answers it.

    ``failure_code``/``failure_message`` are set on declined charges; ``refund`` once refunded.
    """

    id: str
    order_id: str
    user_id: str
    status: ChargeStatus
    amount: Money
    card: CardSummary
    failure_code: str | None = None
    failure_message: str | None = None
    refund: Refund | None = None
    created_at: datetime
    updated_at: datetime


class ChargePage(_Contract):
    items: list[Charge]
    next_cursor: str | None = None


class CardDetails(_Contract):
    """A card as the customer typed it: in memory for one charge, never stored, never in a repr."""

    number: str = Field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = Field(repr=False)


class ChargeRequest(_Contract):
    """``POST /api/payments/charges`` (with an ``Idempotency-Key``); payments validates it strictly."""

    order_id: str
    user_id: str
    amount: Money
    card: CardDetails


class PaymentCaptured(Event):
    """``payments.payment.captured``: the money was taken."""

    event_type: ClassVar[str] = PAYMENT_CAPTURED

    charge_id: str
    order_id: str
    user_id: str
    amount: Money
    card: CardSummary


class PaymentDeclined(Event):
    """``payments.payment.declined``: the issuer refused; nothing was taken."""

    event_type: ClassVar[str] = PAYMENT_DECLINED

    charge_id: str
    order_id: str
    user_id: str
    amount: Money
    card: CardSummary
    failure_code: str
    failure_message: str


class PaymentRefunded(Event):
    """``payments.payment.refunded``: the whole captured amount went back to the card."""

    event_type: ClassVar[str] = PAYMENT_REFUNDED

    charge_id: str
    refund_id: str
    order_id: str
    user_id: str
    amount: Money


__all__ = [
    "PAYMENT_CAPTURED",
    "PAYMENT_DECLINED",
    "PAYMENT_REFUNDED",
    "REASON_CARD_DECLINED",
    "REASON_PROVIDER_ERROR",
    "SOURCE",
    "CardBrand",
    "CardDetails",
    "CardSummary",
    "Charge",
    "ChargePage",
    "ChargeRequest",
    "ChargeStatus",
    "PaymentCaptured",
    "PaymentDeclined",
    "PaymentRefunded",
    "Refund",
    "luhn_valid",
]
