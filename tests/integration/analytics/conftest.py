"""Analytics running in-process on each database backend, migrated and seeded once per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.platform.messaging import Envelope, inbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.services.analytics import AnalyticsSettings, spec
from agora.services.analytics.models import Activity, OrderFact, OrderFactLine

API = "/api/analytics"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Analytics:
    client: httpx.AsyncClient
    embedded: Any
    admin: dict[str, str]
    support: dict[str, str]
    customer: dict[str, str]

    @property
    def context(self) -> Any:
        return self.embedded.contexts["analytics"]

    async def publish(self, event_type: str, data: dict[str, Any], *, at: datetime, source: str) -> Envelope:
        envelope = Envelope(type=event_type, source=source, data=data, time=at)
        await self.context.transport.publish(envelope.topic, envelope)
        return envelope

    async def redeliver(self, envelope: Envelope) -> None:
        await self.context.transport.publish(envelope.topic, envelope)

    async def counts(self) -> dict[str, int]:
        """Rows per table and the sum of activity weights: what "nothing changed" is checked against."""
        async with self.context.sessions() as session:
            result = {}
            for name, table in (
                ("orders", OrderFact),
                ("lines", OrderFactLine),
                ("activity", Activity),
                ("inbox", inbox),
            ):
                result[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
            result["weights"] = int(await session.scalar(select(func.sum(Activity.weight))) or 0)
            return result

    async def handled(self, event_id: str) -> bool:
        async with self.context.sessions() as session:
            statement = select(func.count()).select_from(inbox).where(inbox.c.event_id == event_id)
            return bool(await session.scalar(statement))


@pytest.fixture(scope="module")
async def analytics(
    database_url: str, jwks_file: Path, token_factory: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Analytics]:
    data_dir = tmp_path_factory.mktemp("analytics")
    platform = platform_for_tests(data_dir, jwks_file=jwks_file)
    settings = {"analytics": AnalyticsSettings(database_url=database_url)}
    async with running_services([spec], platform, settings, seed=True) as (client, embedded):
        yield Analytics(
            client,
            embedded,
            admin=bearer(token_factory(roles=["admin"], subject="admin-1")),
            support=bearer(token_factory(roles=["support"], subject="support-1")),
            customer=bearer(token_factory(roles=["customer"], subject="customer-1")),
        )
