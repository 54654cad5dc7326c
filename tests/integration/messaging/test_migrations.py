"""The migration helpers create exactly the tables the code uses, on every database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.messaging import messaging_metadata
from agora.platform.messaging import migrations as messaging_migrations

from .helpers import effects_metadata

MESSAGING_TABLES = {"outbox", "inbox", "dead_letters"}


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return [
        d
        for d in compare_metadata(context, messaging_metadata)
        if not (d[0] == "remove_table" and d[1].name in effects_metadata.tables)
    ]


def _downgrade_then_tables(connection: Connection) -> set[str]:
    messaging_migrations.downgrade(Operations(MigrationContext.configure(connection)))
    return set(inspect(connection).get_table_names())


async def test_upgrade_matches_the_table_definitions_and_downgrade_drops_them(
    messaging_db: tuple[str, AsyncEngine],
) -> None:
    _, engine = messaging_db
    async with engine.begin() as connection:
        assert await connection.run_sync(_diff) == []
        remaining = await connection.run_sync(_downgrade_then_tables)
    assert not remaining & MESSAGING_TABLES
