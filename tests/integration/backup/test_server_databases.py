"""One service database through its server's dump tool and back, on PostgreSQL and MariaDB: the
rows come back, the revision is the one saved, and a table of a newer schema is dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, inspect, select, text

from agora.backup import Store
from agora.backup._databases import dump, load, revision
from agora.platform.db import create_engine
from agora.platform.db.engine import dialect_of
from agora.platform.db.migrations import upgrade
from agora.platform.messaging.tables import outbox
from agora.platform.testing.databases import fresh_database
from agora.registry import service_spec

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("postgresql", marks=pytest.mark.backend("postgresql")),
        pytest.param("mariadb", marks=pytest.mark.backend("mariadb")),
    ],
)
async def test_a_dump_restores_the_rows_and_drops_a_newer_schema(backend: str, tmp_path: Path) -> None:
    spec = service_spec("payments")
    async for url in fresh_database(backend, tmp_path):
        engine = create_engine(url, pool_size=1)
        try:
            await upgrade(engine, service=spec.name, migrations_dir=spec.migrations_dir)
            event = str(uuid.uuid4())
            async with engine.begin() as connection:
                await connection.execute(
                    insert(outbox).values(
                        event_id=event,
                        source="payments",
                        topic="payments",
                        type="payments.charge.captured",
                        payload="{}",
                        created_at=datetime.now(UTC),
                    )
                )
            store = Store(spec.name, dialect_of(url), "payments", spec=spec, url=url)
            saved = await revision(url, spec.name)
            assert saved is not None
            await dump(store, tmp_path / "payments.dump")

            async with engine.begin() as connection:
                await connection.execute(delete(outbox))
                await connection.execute(text("CREATE TABLE from_a_newer_schema (id INTEGER PRIMARY KEY)"))
            await engine.dispose()
            await load(store, tmp_path / "payments.dump")

            async with engine.connect() as connection:
                events = await connection.execute(select(outbox.c.event_id))
                assert [row.event_id for row in events] == [event]
                tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
                assert "from_a_newer_schema" not in tables and "outbox" in tables
            assert await revision(url, spec.name) == saved
        finally:
            await engine.dispose()
