"""The currency service running in-process on each database backend, migrated and seeded once per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from agora.platform.messaging import outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services.currency import CurrencySettings, spec
from agora.services.currency.models import Rate

API = "/api/currency"


@dataclass
class Currency:
    client: httpx.AsyncClient
    embedded: Any

    @property
    def context(self) -> Any:
        return self.embedded.contexts["currency"]

    async def state(self) -> dict[str, Any]:
        """Every rate as stored plus the outbox size: what "nothing changed" is checked against."""
        async with self.context.sessions() as session:
            rates = {
                rate.code: (str(rate.rate_per_usd), rate.updated_by) for rate in await session.scalars(select(Rate))
            }
            events = int(await session.scalar(select(func.count()).select_from(outbox)) or 0)
        return {"rates": rates, "outbox": events}

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        """The envelopes of ``event_type`` in the outbox, oldest first."""
        async with self.context.sessions() as session:
            statement = select(outbox.c.key, outbox.c.payload).where(outbox.c.type == event_type).order_by(outbox.c.id)
            rows = (await session.execute(statement)).all()
        return [{"key": row.key, **orjson.loads(row.payload)} for row in rows]

    async def set_rate(self, code: str, rate: Any, token: str) -> httpx.Response:
        return await self.client.put(f"{API}/rates/{code}", json={"rate_per_usd": rate}, headers=bearer(token))


@pytest.fixture(scope="module")
async def currency(
    database_url: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Currency]:
    platform = platform_for_tests(tmp_path_factory.mktemp("currency"), jwks_file=jwks_file)
    settings = {"currency": CurrencySettings(database_url=database_url)}
    async with running_services([spec], platform, settings, seed=True) as (client, embedded):
        yield Currency(client, embedded)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
