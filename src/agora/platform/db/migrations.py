"""Alembic, one version line per service.

Each service keeps its migrations in ``services/<name>/migrations`` with a version table of its
own (``alembic_version_<name>``), so services stay independent even when an operator points two
of them at one database. ``env.py`` in each service is three lines that call
:func:`run_migrations_env`; :func:`upgrade` runs the upgrade on an already-running event loop by
handing Alembic a live connection (``config.attributes["connection"]``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, pool
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def alembic_config(service: str, migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    # a literal "%" in a password would otherwise be read as interpolation
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


async def _run(engine: AsyncEngine, service: str, migrations_dir: Path, step: Callable[[Config], None]) -> None:
    """Runs an Alembic command on a live connection of ``engine`` (from a running event loop)."""
    config = alembic_config(service, migrations_dir, engine.url.render_as_string(hide_password=False))

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        step(config)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def upgrade(engine: AsyncEngine, *, service: str, migrations_dir: Path, revision: str = "head") -> None:
    await _run(engine, service, migrations_dir, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, *, service: str, migrations_dir: Path, revision: str = "base") -> None:
    await _run(engine, service, migrations_dir, lambda config: command.downgrade(config, revision))


async def pending_revisions(engine: AsyncEngine, *, service: str, migrations_dir: Path) -> list[str]:
    """Revisions not yet applied (empty when the database is at head)."""
    script = ScriptDirectory.from_config(alembic_config(service, migrations_dir, str(engine.url)))

    def current(connection: Connection) -> set[str]:
        migration = MigrationContext.configure(connection, opts={"version_table": version_table(service)})
        return set(migration.get_current_heads())

    async with engine.connect() as connection:
        heads = await connection.run_sync(current)
    pending = []
    for revision in script.walk_revisions():
        if revision.revision in heads:
            break
        pending.append(revision.revision)
    return pending


def run_migrations_env(target_metadata: MetaData) -> None:
    """The body of every service's ``env.py``."""
    config = context.config
    service = config.attributes.get("service") or Path(config.get_main_option("script_location") or "").parent.name
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "version_table": version_table(service),
        "render_as_batch": True,  # SQLite needs batch mode for ALTER
        "compare_type": True,
    }
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return

    async def run_async() -> None:
        engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
        async with engine.connect() as async_connection:
            await async_connection.run_sync(run)
            await async_connection.commit()
        await engine.dispose()

    asyncio.run(run_async())
