"""What every service's migrations must satisfy, as reusable checks for tests.

* the round trip: upgrade creates the service's tables and the messaging tables, leaves no
  pending revision; downgrade drops them all; upgrade works again;
* the migrated schema matches the models (Alembic's autogenerate comparison finds nothing), so a
  column added to ``models.py`` without a revision fails a test instead of a deployment.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from agora.platform.db.migrations import downgrade, pending_revisions, upgrade
from agora.platform.messaging.tables import messaging_metadata
from agora.platform.service import ServiceSpec


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def assert_round_trip(engine: AsyncEngine, spec: ServiceSpec) -> None:
    own = set(spec.metadata.tables) | set(messaging_metadata.tables)
    await upgrade(engine, service=spec.name, migrations_dir=spec.migrations_dir)
    missing = own - await table_names(engine)
    assert not missing, f"{spec.name}: upgrade did not create {sorted(missing)}"
    assert await pending_revisions(engine, service=spec.name, migrations_dir=spec.migrations_dir) == []

    await downgrade(engine, service=spec.name, migrations_dir=spec.migrations_dir)
    left = own & await table_names(engine)
    assert not left, f"{spec.name}: downgrade left {sorted(left)}"

    await upgrade(engine, service=spec.name, migrations_dir=spec.migrations_dir)
    assert await pending_revisions(engine, service=spec.name, migrations_dir=spec.migrations_dir) == []


async def schema_differences(
    engine: AsyncEngine, spec: ServiceSpec, *, database_only: Collection[str] = ()
) -> list[Any]:
    """Alembic's differences between the migrated database and the service's models (want: []).

    ``database_only`` names indexes and columns a migration creates on purpose outside the
    models (the catalog's per-dialect full-text machinery).
    """
    await upgrade(engine, service=spec.name, migrations_dir=spec.migrations_dir)
    tables = set(spec.metadata.tables)

    def include(name: str | None, kind: str, _parent: Any) -> bool:
        if kind == "table":
            return name in tables
        return not (kind in ("index", "column") and name in database_only)

    def compare(sync_connection: Any) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"include_name": include})
        return list(compare_metadata(context, spec.metadata))

    async with engine.connect() as connection:
        return await connection.run_sync(compare)


__all__ = ["assert_round_trip", "schema_differences", "table_names"]
