"""Fixtures for the messaging integration tests: a migrated database and a started transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agora.platform.db import create_engine, create_sessionmaker, dialect_of
from agora.platform.messaging import Transport, create_transport
from agora.platform.messaging import migrations as messaging_migrations
from agora.platform.testing.databases import fresh_database

from .helpers import effects_metadata


def _migrate(connection: Connection) -> None:
    messaging_migrations.upgrade(Operations(MigrationContext.configure(connection)))
    effects_metadata.create_all(connection)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database_backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def messaging_db(database_backend_name: str, tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A fresh database with the messaging tables (via the migration helpers) and ``effects``."""
    async for url in fresh_database(database_backend_name, tmp_path):
        engine = create_engine(url, pool_size=5)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_migrate)
            yield dialect_of(url), engine
        finally:
            await engine.dispose()


@pytest.fixture
def sessions(messaging_db: tuple[str, AsyncEngine]) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(messaging_db[1])


@pytest.fixture
def dialect(messaging_db: tuple[str, AsyncEngine]) -> str:
    return messaging_db[0]


@pytest.fixture
async def transport(broker_url: str) -> AsyncIterator[Transport]:
    transport = create_transport(broker_url)
    await transport.start()
    try:
        yield transport
    finally:
        await transport.close()


@pytest.fixture
async def memory_transport() -> AsyncIterator[Transport]:
    transport = create_transport("memory://")
    await transport.start()
    try:
        yield transport
    finally:
        await transport.close()
