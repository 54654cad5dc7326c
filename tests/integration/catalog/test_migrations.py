"""The catalog's migration on each database: full-text objects per dialect, and a clean round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine, dialect_of
from agora.platform.db.migrations import downgrade, pending_revisions, upgrade
from agora.services.catalog import spec

TABLES = {"categories", "products", "product_tags", "outbox", "inbox", "dead_letters"}


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def full_text_objects(engine: AsyncEngine) -> set[str]:
    dialect = dialect_of(str(engine.url))
    queries = {
        "sqlite": "SELECT name FROM sqlite_master WHERE name LIKE 'products_fts%' AND type IN ('table', 'trigger')",
        "postgresql": "SELECT indexname FROM pg_indexes WHERE tablename = 'products' AND indexdef LIKE '%gin%'",
        "mysql": "SELECT DISTINCT index_name FROM information_schema.statistics "
        "WHERE table_schema = DATABASE() AND table_name = 'products' AND index_type = 'FULLTEXT'",
    }
    async with engine.connect() as connection:
        return {row[0] for row in await connection.execute(text(queries[dialect]))}


async def test_upgrade_downgrade_upgrade(engine: AsyncEngine) -> None:
    await upgrade(engine, service="catalog", migrations_dir=spec.migrations_dir)
    assert TABLES <= await tables(engine)
    assert await pending_revisions(engine, service="catalog", migrations_dir=spec.migrations_dir) == []
    expected = {
        "sqlite": {"products_fts", "products_fts_insert", "products_fts_update", "products_fts_delete"},
        "postgresql": {"ix_products_search_vector"},
        "mysql": {"ft_products_name", "ft_products_document"},
    }[dialect_of(str(engine.url))]
    assert expected <= await full_text_objects(engine)

    await downgrade(engine, service="catalog", migrations_dir=spec.migrations_dir)
    assert not (TABLES | {"products_fts"}) & await tables(engine)

    await upgrade(engine, service="catalog", migrations_dir=spec.migrations_dir)
    assert TABLES <= await tables(engine)
    async with engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version_catalog"))
    assert version == "0002_catalog_fault_flags"
