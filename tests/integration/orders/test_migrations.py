"""The orders migration keeps seed 003's index names (the round trip and the schema-equals-models
check run for every registered service in tests/integration/platform/test_service_migrations.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine
from agora.platform.db.migrations import upgrade
from agora.services.orders import spec

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


async def test_the_indexes_of_seed_003_exist_under_their_names(engine: AsyncEngine) -> None:
    await upgrade(engine, service="orders", migrations_dir=spec.migrations_dir)

    def indexes(sync_connection) -> set[tuple[str, str, tuple[str, ...]]]:
        inspector = inspect(sync_connection)
        return {
            (table, index["name"], tuple(index["column_names"]))
            for table in ("orders", "order_items")
            for index in inspector.get_indexes(table)
        }

    async with engine.connect() as connection:
        found = await connection.run_sync(indexes)
    assert SEED_003_INDEXES <= found
