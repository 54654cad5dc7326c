"""The cart's migration on each database: its table, the messaging tables, and a clean round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine
from agora.platform.db.migrations import downgrade, pending_revisions, upgrade
from agora.services.cart import spec

TABLES = {"cart_items", "outbox", "inbox", "dead_letters"}


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_downgrade_upgrade(engine: AsyncEngine) -> None:
    await upgrade(engine, service="cart", migrations_dir=spec.migrations_dir)
    assert TABLES <= await tables(engine)
    assert await pending_revisions(engine, service="cart", migrations_dir=spec.migrations_dir) == []
    async with engine.connect() as connection:
        columns = await connection.run_sync(lambda sync: inspect(sync).get_pk_constraint("cart_items"))
    assert columns["constrained_columns"] == ["owner", "product_id"]

    await downgrade(engine, service="cart", migrations_dir=spec.migrations_dir)
    assert not TABLES & await tables(engine)

    await upgrade(engine, service="cart", migrations_dir=spec.migrations_dir)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT version_num FROM alembic_version_cart")) == "0001_cart"
