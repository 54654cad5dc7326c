"""The orders migration on each database: seed 003's index names, a clean round trip, models in step."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine
from agora.platform.db.migrations import downgrade, pending_revisions, upgrade
from agora.services.orders import spec
from agora.services.orders.models import metadata

ORDERS_TABLES = {"orders", "order_items"}
TABLES = ORDERS_TABLES | {"outbox", "inbox", "dead_letters", "idempotency_keys"}
SEED_003_INDEXES = {
    ("orders", "idx_orders_created_at", ("created_at",)),
    ("orders", "idx_orders_user_id", ("user_id",)),
    ("order_items", "idx_order_items_order_id", ("order_id",)),
    ("order_items", "idx_order_items_product_id", ("product_id",)),
}


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_downgrade_upgrade(engine: AsyncEngine) -> None:
    await upgrade(engine, service="orders", migrations_dir=spec.migrations_dir)
    assert TABLES <= await tables(engine)
    assert await pending_revisions(engine, service="orders", migrations_dir=spec.migrations_dir) == []

    await downgrade(engine, service="orders", migrations_dir=spec.migrations_dir)
    assert not TABLES & await tables(engine)

    await upgrade(engine, service="orders", migrations_dir=spec.migrations_dir)
    async with engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version_orders"))
    assert version == "0001_orders"


async def test_the_indexes_of_seed_003_exist_under_their_names(engine: AsyncEngine) -> None:
    await upgrade(engine, service="orders", migrations_dir=spec.migrations_dir)

    def indexes(sync_connection) -> set[tuple[str, str, tuple[str, ...]]]:
        inspector = inspect(sync_connection)
        return {
            (table, index["name"], tuple(index["column_names"]))
            for table in ORDERS_TABLES
            for index in inspector.get_indexes(table)
        }

    async with engine.connect() as connection:
        found = await connection.run_sync(indexes)
    assert SEED_003_INDEXES <= found


async def test_the_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    await upgrade(engine, service="orders", migrations_dir=spec.migrations_dir)

    def differences(sync_connection) -> list:
        context = MigrationContext.configure(
            sync_connection,
            opts={"include_name": lambda name, kind, parent: kind != "table" or name in ORDERS_TABLES},
        )
        return compare_metadata(context, metadata)

    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
