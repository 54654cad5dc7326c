"""Inventory's CHECK constraints hold on each database (the round trip and the schema-equals-models
check for every service are in tests/integration/platform/test_service_migrations.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine
from agora.platform.db.migrations import upgrade
from agora.services.inventory import spec


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize(
    ("on_hand", "reserved"),
    [(-1, 0), (5, -1), (5, 6)],
    ids=["negative on hand", "negative reserved", "reserved above on hand"],
)
async def test_the_database_refuses_impossible_stock(engine: AsyncEngine, on_hand: int, reserved: int) -> None:
    """The last line of defence: even a statement that skips the service's conditions cannot oversell."""
    await upgrade(engine, service="inventory", migrations_dir=spec.migrations_dir)
    async with engine.connect() as connection:
        insert = text(
            "INSERT INTO stock (sku, on_hand, reserved, updated_at, version) "
            "VALUES (:sku, :on_hand, :reserved, CURRENT_TIMESTAMP, 1)"
        )
        with pytest.raises((IntegrityError, OperationalError)):
            await connection.execute(insert, {"sku": "CHECK-ME", "on_hand": on_hand, "reserved": reserved})
        await connection.rollback()
        await connection.execute(insert, {"sku": "CHECK-ME", "on_hand": 5, "reserved": 5})
        with pytest.raises((IntegrityError, OperationalError)):
            await connection.execute(text("UPDATE stock SET reserved = reserved + 1 WHERE sku = 'CHECK-ME'"))
        await connection.rollback()
