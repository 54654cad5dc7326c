"""Identity's migration on each database: a clean round trip, and the tables match the models."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db import create_engine
from agora.platform.db.migrations import downgrade, pending_revisions, upgrade
from agora.services.identity import spec
from agora.services.identity.models import metadata

TABLES = {"users", "addresses", "refresh_tokens", "signing_keys", "outbox", "inbox", "dead_letters"}
IDENTITY_TABLES = {"users", "addresses", "refresh_tokens", "signing_keys"}


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_downgrade_upgrade(engine: AsyncEngine) -> None:
    await upgrade(engine, service="identity", migrations_dir=spec.migrations_dir)
    assert TABLES <= await tables(engine)
    assert await pending_revisions(engine, service="identity", migrations_dir=spec.migrations_dir) == []

    await downgrade(engine, service="identity", migrations_dir=spec.migrations_dir)
    assert not TABLES & await tables(engine)

    await upgrade(engine, service="identity", migrations_dir=spec.migrations_dir)
    async with engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version_identity"))
    assert version == "0001_identity"


async def test_the_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    await upgrade(engine, service="identity", migrations_dir=spec.migrations_dir)

    def differences(sync_connection) -> list:
        context = MigrationContext.configure(
            sync_connection,
            opts={"include_name": lambda name, kind, parent: kind != "table" or name in IDENTITY_TABLES},
        )
        return compare_metadata(context, metadata)

    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
