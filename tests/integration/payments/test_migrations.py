"""The payments migration on each database: the tables, no card-number column, a clean round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine
from agora.platform.db.migrations import downgrade, pending_revisions, upgrade
from agora.services.payments import spec

TABLES = {"charges", "refunds", "outbox", "inbox", "dead_letters", "idempotency_keys"}


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def columns(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda sync: inspect(sync).get_columns(table))
    return {column["name"] for column in found}


async def test_upgrade_downgrade_upgrade(engine: AsyncEngine) -> None:
    await upgrade(engine, service="payments", migrations_dir=spec.migrations_dir)
    assert TABLES <= await tables(engine)
    assert await pending_revisions(engine, service="payments", migrations_dir=spec.migrations_dir) == []
    charge_columns = await columns(engine, "charges")
    assert {"card_brand", "card_last4", "card_exp_month", "card_exp_year"} <= charge_columns
    assert not {name for name in charge_columns if "number" in name or "cvc" in name or "pan" in name}

    await downgrade(engine, service="payments", migrations_dir=spec.migrations_dir)
    assert not TABLES & await tables(engine)

    await upgrade(engine, service="payments", migrations_dir=spec.migrations_dir)
    assert TABLES <= await tables(engine)
    async with engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version_payments"))
    assert version == "0001_payments"
