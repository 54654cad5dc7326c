"""The charges table as migrated holds the card's brand, last four and expiry, and no column that
could hold a card number or a CVC (the round trip and models-equal-schema checks for every service
are in tests/integration/platform/test_service_migrations.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine
from agora.platform.db.migrations import upgrade
from agora.services.payments import spec


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def test_no_column_can_hold_a_card_number_or_cvc(engine: AsyncEngine) -> None:
    await upgrade(engine, service="payments", migrations_dir=spec.migrations_dir)
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda sync: inspect(sync).get_columns("charges"))
    names = {column["name"] for column in found}
    assert {"card_brand", "card_last4", "card_exp_month", "card_exp_year"} <= names
    assert not {name for name in names if "number" in name or "cvc" in name or "pan" in name}
