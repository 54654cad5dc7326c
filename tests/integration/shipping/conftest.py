"""Shipping running in-process on each database backend, migrated once per module."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from agora.platform.messaging import outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services.shipping import ShippingSettings, spec
from agora.services.shipping.models import Shipment

API = "/api/shipping"

_orders = itertools.count(1)


def new_order_id() -> str:
    return f"order-{next(_orders):06d}"


def address(**overrides: Any) -> dict[str, Any]:
    return {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield", "postal_code": "62701",
            "country": "US", **overrides}  # fmt: skip


def shipment_body(order_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body = {
        "order_id": new_order_id() if order_id is None else order_id,
        "address": address(),
        "items": [{"sku": "SKU-1", "quantity": 2}],
    }
    return {**body, **overrides}


@dataclass
class Shipping:
    client: httpx.AsyncClient
    embedded: Any
    token_factory: Callable[..., str]

    @property
    def context(self) -> Any:
        return self.embedded.contexts["shipping"]

    def headers(self, role: str | None) -> dict[str, str]:
        """Authorization for a caller with ``role`` (None: anonymous); services are "service:orders"."""
        if role is None:
            return {}
        subject = "service:orders" if role == "service" else f"{role}-1"
        return {"Authorization": f"Bearer {self.token_factory(roles=[role], subject=subject)}"}

    async def state(self) -> dict[str, Any]:
        """Every shipment's (order, status) plus the outbox size: what "nothing changed" is checked against."""
        async with self.context.sessions() as session:
            rows = (await session.execute(select(Shipment.order_id, Shipment.status, Shipment.delivered_at))).all()
            events = int(await session.scalar(select(func.count()).select_from(outbox)) or 0)
        return {"shipments": sorted(tuple(row) for row in rows), "outbox": events}

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.context.sessions() as session:
            statement = select(outbox.c.key, outbox.c.payload).where(outbox.c.type == event_type).order_by(outbox.c.id)
            rows = (await session.execute(statement)).all()
        return [{"key": row.key, **orjson.loads(row.payload)} for row in rows]

    async def ship(self, body: dict[str, Any], role: str | None = "service") -> httpx.Response:
        return await self.client.post(f"{API}/shipments", json=body, headers=self.headers(role))


@pytest.fixture(scope="module")
async def shipping(
    database_url: str, jwks_file: Path, token_factory: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shipping]:
    platform = platform_for_tests(tmp_path_factory.mktemp("shipping"), jwks_file=jwks_file)
    settings = {"shipping": ShippingSettings(database_url=database_url)}
    async with running_services([spec], platform, settings) as (client, embedded):
        yield Shipping(client, embedded, token_factory)
