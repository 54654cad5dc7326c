"""The currency's rules: which rates exist, who may change them, and how an amount converts.

No web framework here and no commit: the request session commits a rate change and its
``currency.rate.updated`` event together. Refusals are :class:`agora.platform.errors.ServiceError`
subclasses naming the field; the chassis answers them as problem+json.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.currency import REFERENCE_CURRENCY, RateUpdated
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import ConflictError, NotFoundError, UnprocessableError
from agora.platform.messaging import Outbox
from agora.services.currency.conversion import (
    MAX_AMOUNT,
    ConversionOverflowError,
    canonical,
    convert_minor,
    cross_rate,
)
from agora.services.currency.models import Rate
from agora.services.currency.repository import RateRepository


def currency_document(rate: Rate) -> dict[str, Any]:
    """One currency as the API returns it (``agora.contracts.currency.Currency`` plus audit fields)."""
    return {
        "code": rate.code,
        "exponent": rate.exponent,
        "rate_per_usd": canonical(rate.rate_per_usd),
        "updated_at": iso_utc(rate.updated_at),
        "updated_by": rate.updated_by,
    }


def currencies_document(rates: Iterable[Rate]) -> dict[str, Any]:
    return {"items": [currency_document(rate) for rate in rates], "next_cursor": None}


@dataclass(frozen=True)
class RateEntry:
    rate_per_usd: Decimal
    exponent: int


class RateTable:
    """The rates a conversion uses, read from the (cached) currencies document."""

    def __init__(self, entries: Mapping[str, RateEntry]) -> None:
        self.entries = dict(entries)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RateTable:
        return cls(
            {
                item["code"]: RateEntry(rate_per_usd=Decimal(item["rate_per_usd"]), exponent=int(item["exponent"]))
                for item in document["items"]
            }
        )

    def entry(self, code: str, *, field: str) -> RateEntry:
        entry = self.entries.get(code)
        if entry is None:
            supported = ", ".join(sorted(self.entries)) or "none yet"
            raise UnprocessableError(f"{code} is not a supported currency (supported: {supported}).", field=field)
        return entry

    def convert(self, amount: int, source: str, target: str) -> dict[str, Any]:
        """``{from, to, rate}`` for ``amount`` minor units of ``source`` (the ``Conversion`` contract)."""
        if not 0 <= amount <= MAX_AMOUNT:
            raise UnprocessableError(f"amount must be between 0 and {MAX_AMOUNT} minor units.", field="query.amount")
        origin = self.entry(source, field="query.from")
        destination = self.entry(target, field="query.to")
        try:
            converted = convert_minor(
                amount,
                rate_from=origin.rate_per_usd,
                exponent_from=origin.exponent,
                rate_to=destination.rate_per_usd,
                exponent_to=destination.exponent,
            )
        except ConversionOverflowError:
            raise UnprocessableError(
                f"{amount} {source} is too large an amount to express in {target}.", field="query.amount"
            ) from None
        return {
            "from": {"amount": amount, "currency": source},
            "to": {"amount": converted, "currency": target},
            "rate": canonical(cross_rate(origin.rate_per_usd, destination.rate_per_usd)),
        }


class CurrencyService:
    def __init__(self, session: AsyncSession, *, events: Outbox) -> None:
        self.session = session
        self.events = events
        self.repository = RateRepository(session)

    async def list_rates(self) -> list[Rate]:
        return list(await self.repository.all())

    async def set_rate(self, code: str, rate_per_usd: Decimal, *, actor: str) -> Rate:
        """Change one currency's rate and publish ``currency.rate.updated``.

        PUT is idempotent: the same rate again (``0.920`` equals ``0.92``) changes nothing and
        publishes nothing, so a retried request does not announce a change twice.
        """
        if code == REFERENCE_CURRENCY:
            raise ConflictError(
                f"{REFERENCE_CURRENCY} is the reference currency: its rate is 1 by definition.", field="code"
            )
        rate = await self.repository.get_for_update(code)
        if rate is None:
            raise NotFoundError(f"No rate for {code}; the supported currencies are fixed.", field="code")
        previous = rate.rate_per_usd
        if previous == rate_per_usd:
            return rate
        rate.rate_per_usd = rate_per_usd
        rate.updated_at = utcnow()
        rate.updated_by = actor
        await self.repository.flush()
        await self.publish(self.session, self.events, rate, previous=previous)
        return rate

    @staticmethod
    async def publish(session: AsyncSession, events: Outbox, rate: Rate, *, previous: Decimal | None) -> None:
        event = RateUpdated(
            code=rate.code,
            exponent=rate.exponent,
            rate_per_usd=canonical(rate.rate_per_usd),
            previous_rate_per_usd=None if previous is None else canonical(previous),
            updated_by=rate.updated_by,
            updated_at=rate.updated_at,
        )
        await events.add(session, event, subject=rate.code, key=rate.code)
