"""The ads service running in-process on each database backend, migrated and seeded once per module."""

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
from agora.services.ads import AdsSettings, spec
from agora.services.ads.models import Ad

API = "/api/ads"


@dataclass
class Ads:
    client: httpx.AsyncClient
    embedded: Any

    @property
    def context(self) -> Any:
        return self.embedded.contexts["ads"]

    async def state(self) -> dict[str, Any]:
        """Every ad as stored plus the outbox size: what "nothing changed" is checked against."""
        async with self.context.sessions() as session:
            ads = {
                ad.id: (ad.title, ad.url, ad.active, ad.weight, ad.version) for ad in await session.scalars(select(Ad))
            }
            events = int(await session.scalar(select(func.count()).select_from(outbox)) or 0)
        return {"ads": ads, "outbox": events}

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        """The envelopes of ``event_type`` in the outbox, oldest first."""
        async with self.context.sessions() as session:
            statement = select(outbox.c.key, outbox.c.payload).where(outbox.c.type == event_type).order_by(outbox.c.id)
            rows = (await session.execute(statement)).all()
        return [{"key": row.key, **orjson.loads(row.payload)} for row in rows]

    async def serve(self, **params: Any) -> list[dict[str, Any]]:
        # a fresh answer: the read cache would hide changes made since the last identical request
        self.context.read_cache.clear()
        response = await self.client.get(API, params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    async def create(self, token: str, **fields: Any) -> dict[str, Any]:
        body = {"title": "An ad", "url": "/products", **fields}
        response = await self.client.post(API, json=body, headers=bearer(token))
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture(scope="module")
async def ads(database_url: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Ads]:
    platform = platform_for_tests(tmp_path_factory.mktemp("ads"), jwks_file=jwks_file)
    settings = {"ads": AdsSettings(database_url=database_url)}
    async with running_services([spec], platform, settings, seed=True) as (client, embedded):
        yield Ads(client, embedded)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
