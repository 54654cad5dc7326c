"""Inventory's migration on each database: tables, CHECK constraints that hold, and a clean round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine
from agora.platform.db.migrations import downgrade, pending_revisions, upgrade
from agora.services.inventory import spec

TABLES = {"stock", "reservations", "reservation_items", "outbox", "inbox", "dead_letters"}


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_downgrade_upgrade(engine: AsyncEngine) -> None:
    await upgrade(engine, service="inventory", migrations_dir=spec.migrations_dir)
    assert TABLES <= await tables(engine)
    assert await pending_revisions(engine, service="inventory", migrations_dir=spec.migrations_dir) == []
    async with engine.connect() as connection:
        indexes = await connection.run_sync(lambda sync: inspect(sync).get_indexes("reservations"))
    assert {"ix_reservations_status_expires"} <= {index["name"] for index in indexes}

    await downgrade(engine, service="inventory", migrations_dir=spec.migrations_dir)
    assert not TABLES & await tables(engine)
    await upgrade(engine, service="inventory", migrations_dir=spec.migrations_dir)
    async with engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version_inventory"))
    assert version == "0001_inventory"


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
