"""The catalog running in-process on each database backend, migrated and seeded once per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.platform.messaging import outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services.catalog import CatalogSettings, spec
from agora.services.catalog.models import Category, Product, ProductTag

MAX_BODY_BYTES = 64 * 1024


@dataclass
class Catalog:
    client: httpx.AsyncClient
    embedded: Any

    @property
    def context(self) -> Any:
        return self.embedded.contexts["catalog"]

    async def counts(self) -> dict[str, int]:
        """Rows per table: what "nothing was written" is checked against."""
        async with self.context.sessions() as session:
            result = {}
            for name, table in (
                ("products", Product),
                ("categories", Category),
                ("product_tags", ProductTag),
                ("outbox", outbox),
            ):
                result[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
            result["versions"] = int(await session.scalar(select(func.sum(Product.version))) or 0)
            return result

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        import orjson

        async with self.context.sessions() as session:
            statement = select(outbox.c.type, outbox.c.key, outbox.c.payload).order_by(outbox.c.id)
            if event_type is not None:
                statement = statement.where(outbox.c.type == event_type)
            rows = (await session.execute(statement)).all()
        return [{"type": row.type, "key": row.key, **orjson.loads(row.payload)} for row in rows]

    async def active_count(self) -> int:
        async with self.context.sessions() as session:
            statement = select(func.count()).select_from(Product).where(Product.active.is_(True))
            return int(await session.scalar(statement) or 0)


@pytest.fixture(scope="module")
async def catalog(
    database_url: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Catalog]:
    platform = platform_for_tests(
        tmp_path_factory.mktemp("catalog"), jwks_file=jwks_file, max_body_bytes=MAX_BODY_BYTES
    )
    settings = {"catalog": CatalogSettings(database_url=database_url)}
    async with running_services([spec], platform, settings, seed=True) as (client, embedded):
        yield Catalog(client, embedded)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
