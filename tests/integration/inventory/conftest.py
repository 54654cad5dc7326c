"""Inventory running in-process on each database backend, migrated once per module."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select, update

from agora.platform.messaging import outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.services.inventory import InventorySettings, spec
from agora.services.inventory.models import Reservation, ReservationItem, Stock

API = "/api/inventory"

_skus = itertools.count(1)


def new_sku(prefix: str = "INV") -> str:
    """A sku no other test of the module uses."""
    return f"{prefix}-{next(_skus):05d}-{uuid.uuid4().hex[:6].upper()}"


def new_reservation_id() -> str:
    return str(uuid.uuid4())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Inventory:
    client: httpx.AsyncClient
    embedded: Any
    service_headers: dict[str, str]
    admin_headers: dict[str, str]

    @property
    def context(self) -> Any:
        return self.embedded.contexts["inventory"]

    async def counts(self) -> dict[str, int]:
        """Rows per table and the sums of the stock columns: what "nothing changed" is checked against."""
        async with self.context.sessions() as session:
            result = {}
            for name, table in (
                ("stock", Stock),
                ("reservations", Reservation),
                ("reservation_items", ReservationItem),
                ("outbox", outbox),
            ):
                result[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for column in (Stock.on_hand, Stock.reserved, Stock.version):
                result[f"sum_{column.key}"] = int(await session.scalar(select(func.sum(column))) or 0)
            return result

    async def stock(self, sku: str) -> dict[str, int]:
        response = await self.client.get(f"{API}/stock/{sku}")
        assert response.status_code == 200, response.text
        body: dict[str, int] = response.json()
        return body

    async def set_stock(self, sku: str, on_hand: int) -> dict[str, Any]:
        response = await self.client.put(f"{API}/stock/{sku}", json={"on_hand": on_hand}, headers=self.admin_headers)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    async def reserve(self, items: list[tuple[str, int]], **extra: Any) -> httpx.Response:
        body = {
            "reservation_id": extra.pop("reservation_id", None) or new_reservation_id(),
            "items": [{"sku": sku, "quantity": quantity} for sku, quantity in items],
            **extra,
        }
        return await self.client.post(f"{API}/reservations", json=body, headers=self.service_headers)

    async def action(self, reservation_id: str, verb: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(
            f"{API}/reservations/{reservation_id}/{verb}", headers=headers or self.service_headers
        )

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.context.sessions() as session:
            statement = select(outbox.c.payload).where(outbox.c.type == event_type).order_by(outbox.c.id)
            return [orjson.loads(row.payload) for row in (await session.execute(statement)).all()]

    async def status(self, reservation_id: str) -> str:
        async with self.context.sessions() as session:
            reservation = await session.get(Reservation, reservation_id)
            assert reservation is not None
            return reservation.status

    async def move_expiry(self, reservation_id: str, seconds: float) -> None:
        """Moves the reservation's ``expires_at`` by ``seconds`` (negative: into the past)."""
        async with self.context.sessions() as session:
            reservation = await session.get(Reservation, reservation_id)
            assert reservation is not None
            await session.execute(
                update(Reservation)
                .where(Reservation.id == reservation_id)
                .values(expires_at=reservation.expires_at + timedelta(seconds=seconds))
            )
            await session.commit()


def quiet_sweep(database_url: str, **overrides: Any) -> InventorySettings:
    """Settings whose background sweep stays out of the way: tests run the sweep themselves."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "reservation_ttl_seconds": 3600,
        "sweep_interval_seconds": 3600,
    }
    values.update(overrides)
    return InventorySettings(**values)


@asynccontextmanager
async def running_inventory(
    settings: InventorySettings, data_dir: Path, *, jwks_file: Path, token_factory: TokenFactory
) -> AsyncIterator[Inventory]:
    """Inventory alone, migrated and started, with a service (orders) and an admin token at hand."""
    platform = platform_for_tests(data_dir, jwks_file=jwks_file)
    async with running_services([spec], platform, {"inventory": settings}) as (client, embedded):
        yield Inventory(
            client,
            embedded,
            service_headers=bearer(token_factory(roles=["service"], subject="service:orders")),
            admin_headers=bearer(token_factory(roles=["admin"], subject="admin-1")),
        )


@pytest.fixture(scope="module")
async def inventory(
    database_url: str, jwks_file: Path, token_factory: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Inventory]:
    data_dir = tmp_path_factory.mktemp("inventory")
    async with running_inventory(
        quiet_sweep(database_url), data_dir, jwks_file=jwks_file, token_factory=token_factory
    ) as running:
        yield running
