"""The starting rates: every currency a catalog price may use (``SUPPORTED_CURRENCIES``, a unit test
checks that none is missing).

Exponents are ISO 4217 facts; rates are realistic mid-market values (late 2026), for demos and
tests: an operator sets real ones with ``PUT /api/currency/rates/{code}``.

Idempotent: only missing currencies are inserted, so a re-run never overwrites a rate an admin
set. Each inserted rate publishes ``currency.rate.updated`` (previous rate null), exactly as an
admin's change does, so consumers that follow rates see the starting ones too.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import unit_of_work
from agora.platform.db.types import utcnow
from agora.platform.messaging import Outbox
from agora.platform.service import ServiceContext
from agora.services.currency.models import Rate
from agora.services.currency.repository import RateRepository
from agora.services.currency.service import CurrencyService

SEED_ACTOR = "seed"

#: code -> (ISO 4217 exponent, units per US dollar)
STARTING_RATES: dict[str, tuple[int, str]] = {
    "USD": (2, "1"),
    "EUR": (2, "0.92"),
    "GBP": (2, "0.79"),
    "JPY": (0, "151.5"),
    "CAD": (2, "1.37"),
    "AUD": (2, "1.53"),
    "CHF": (2, "0.88"),
    "SEK": (2, "10.65"),
    "NOK": (2, "10.95"),
    "DKK": (2, "6.87"),
    "PLN": (2, "3.98"),
    "NZD": (2, "1.67"),
}


async def seed_rates(session: AsyncSession, events: Outbox) -> int:
    """Insert the missing starting rates in ``session`` (the caller commits); returns how many."""
    repository = RateRepository(session)
    present = {rate.code for rate in await repository.all()}
    inserted = 0
    for code, (exponent, rate_text) in sorted(STARTING_RATES.items()):
        if code in present:
            continue
        rate = Rate(
            code=code, rate_per_usd=Decimal(rate_text), exponent=exponent, updated_at=utcnow(), updated_by=SEED_ACTOR
        )
        await repository.add(rate)
        await CurrencyService.publish(session, events, rate, previous=None)
        inserted += 1
    return inserted


async def seed(context: ServiceContext) -> int:
    """The spec's seed hook: one transaction, committed only if every rate was inserted."""
    async with unit_of_work(context) as session:
        return await seed_rates(session, context.outbox)
