"""What the currency service answers and publishes (topic ``currency``).

Orders convert prices through ``GET /api/currency/convert`` and parse the answer with
:class:`Conversion`; it never imports the currency service. Rates travel as decimal *strings*
("0.92", "151.5"): a JSON number would be read back as a binary float by most clients, and a
rate that is off in its 17th digit converts a large amount to the wrong minor unit.

Compatibility rule: fields are only ever added (with defaults); consumers ignore fields they do
not know (``extra="ignore"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from agora.contracts.base import Contract, Event
from agora.contracts.catalog import Money

#: Event types, stable strings (topic ``currency``).
RATE_UPDATED = "currency.rate.updated"

#: The CloudEvents ``source`` of every currency event.
SOURCE = "agora/currency"

#: The reference currency: every rate is "units of this currency per one US dollar".
REFERENCE_CURRENCY = "USD"


class Currency(Contract):
    """One row of ``GET /api/currency/currencies``."""

    code: str = Field(description="ISO 4217 code.")
    exponent: int = Field(description="ISO 4217 minor-unit exponent: 2 for cents, 0 for yen.")
    rate_per_usd: str = Field(description="Units of this currency per US dollar, an exact decimal string.")


class CurrencyList(Contract):
    # a Sequence (read-only, covariant): the service's page narrows it to its richer rows
    items: Sequence[Currency]
    next_cursor: str | None = None


class Conversion(Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``GET /api/currency/convert``: the amount in both currencies and the rate between them.

    ``to`` is computed from the two stored rates exactly and rounded once (half to even);
    ``rate`` (units of ``to`` per unit of ``from``, 12 significant digits) is for display only.
    """

    from_: Money = Field(alias="from")
    to: Money
    rate: str


class RateUpdated(Event):
    """``currency.rate.updated``: an admin (or the seed) set a currency's rate."""

    event_type: ClassVar[str] = RATE_UPDATED

    code: str
    exponent: int
    rate_per_usd: str
    previous_rate_per_usd: str | None = Field(default=None, description="None when the rate was first set.")
    updated_by: str
    updated_at: datetime


__all__ = [
    "RATE_UPDATED",
    "REFERENCE_CURRENCY",
    "SOURCE",
    "Conversion",
    "Currency",
    "CurrencyList",
    "RateUpdated",
]
