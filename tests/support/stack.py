"""The whole checkout stack in one process, for tests that need every service for real.

identity, catalog, inventory, cart, currency, shipping, payments and orders run in-process (the
embedded dispatcher of ``agora up``), each with its OWN fresh database on the chosen backend,
migrated and seeded. Nothing is faked: tokens come from identity (users register and log in over
HTTP, services fetch service tokens and the JWKS from identity, as in production: no
``jwks_file`` override), events travel through each service's outbox and the in-process broker.

``running_stack`` also waits until inventory has stock for the seeded products (it learns them
from ``catalog.product.created``), so a test can check out at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from sqlalchemy import func, select

from agora.platform.messaging import outbox
from agora.platform.runtime import EmbeddedApp
from agora.platform.service import ServiceContext, ServiceSpec
from agora.platform.settings import ServiceSettings
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually

SERVICES = ("identity", "catalog", "inventory", "cart", "currency", "shipping", "payments", "orders")
PASSWORD = "a long enough test passphrase"
GOOD_CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": datetime.now(UTC).year + 3, "cvc": "123"}
DECLINED_CARD = {**GOOD_CARD, "number": "4000 0000 0000 0002"}
PROVIDER_ERROR_CARD = {**GOOD_CARD, "number": "4000 0000 0000 0119"}
ADDRESS = {"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"}
ADDRESS["country"] = "DE"

#: Connections per service on PostgreSQL: 8 services x 10 stay under its default max_connections of 100.
POSTGRES_POOL = 10

T = TypeVar("T")


def specs() -> list[ServiceSpec]:
    from agora.services import cart, catalog, currency, identity, inventory, orders, payments, shipping

    modules = {
        "identity": identity,
        "catalog": catalog,
        "inventory": inventory,
        "cart": cart,
        "currency": currency,
        "shipping": shipping,
        "payments": payments,
        "orders": orders,
    }
    return [modules[name].spec for name in SERVICES]


@dataclass(frozen=True)
class User:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Stack:
    client: httpx.AsyncClient
    embedded: EmbeddedApp

    def context(self, service: str) -> ServiceContext:
        return self.embedded.contexts[service]

    # -- people ------------------------------------------------------------------------------

    async def register(self, email: str | None = None) -> User:
        email = email or f"shopper-{uuid.uuid4().hex[:12]}@example.org"
        registered = await self.client.post("/api/identity/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        return await self.login(email)

    async def login(self, email: str) -> User:
        response = await self.client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        me = await self.client.get("/api/identity/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        return User(id=me.json()["id"], email=email, token=token)

    async def users(self, count: int, *, concurrency: int = 8) -> list[User]:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> User:
            async with gate:
                return await self.register()

        return list(await asyncio.gather(*(one() for _ in range(count))))

    async def admin(self) -> User:
        from agora.services.identity.operations import create_admin

        email = f"admin-{uuid.uuid4().hex[:12]}@example.org"
        await create_admin(self.context("identity"), email=email, password=PASSWORD)
        return await self.login(email)

    # -- catalog, stock, cart -----------------------------------------------------------------

    async def products(self, count: int) -> list[dict[str, Any]]:
        response = await self.client.get("/api/catalog/products", params={"limit": count})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        assert len(items) == count
        return items

    async def stock(self, sku: str) -> dict[str, int]:
        response = await self.client.get(f"/api/inventory/stock/{sku}")
        assert response.status_code == 200, response.text
        stock: dict[str, int] = response.json()
        return stock

    async def set_stock(self, admin: User, sku: str, on_hand: int) -> None:
        body = {"on_hand": on_hand}
        response = await self.client.put(f"/api/inventory/stock/{sku}", json=body, headers=admin.headers)
        assert response.status_code == 200, response.text

    async def wait_for_stock(self, skus: Iterable[str], *, within: float = 60.0) -> None:
        pending = set(skus)

        async def stocked() -> bool:
            for sku in list(pending):
                response = await self.client.get(f"/api/inventory/stock/{sku}")
                if response.status_code == 200 and response.json()["available"] > 0:
                    pending.discard(sku)
            return not pending

        await eventually(stocked, within=within, what=f"inventory has stock for {sorted(pending)}")

    async def add_to_cart(self, user: User, product_id: str, quantity: int = 1) -> httpx.Response:
        return await self.client.post(
            "/api/cart/items", json={"product_id": product_id, "quantity": quantity}, headers=user.headers
        )

    async def checkout(
        self,
        user: User,
        *,
        card: dict[str, Any] | None = None,
        currency: str = "EUR",
        key: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        document = body or {"currency": currency, "shipping_address": ADDRESS, "card": card or GOOD_CARD}
        headers = {**user.headers, "Idempotency-Key": key or str(uuid.uuid4())}
        return await self.client.post("/api/orders/checkout", json=document, headers=headers)

    # -- what the services stored --------------------------------------------------------------

    async def events(self, service: str, *, key: str | None = None) -> list[dict[str, Any]]:
        async with self.context(service).sessions() as session:
            statement = select(outbox.c.type, outbox.c.key, outbox.c.payload).order_by(outbox.c.id)
            if key is not None:
                statement = statement.where(outbox.c.key == key)
            rows = (await session.execute(statement)).all()
        return [{"type": row.type, "key": row.key, **orjson.loads(row.payload)} for row in rows]

    async def count(self, service: str, model: Any, *conditions: Any) -> int:
        async with self.context(service).sessions() as session:
            statement = select(func.count()).select_from(model)
            for condition in conditions:
                statement = statement.where(condition)
            return int((await session.execute(statement)).scalar_one())


def _settings(names: Sequence[str], urls: dict[str, str], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    settings: dict[str, ServiceSettings] = {}
    for spec in specs():
        if spec.name in names:
            settings[spec.name] = spec.settings_cls(database_url=urls[spec.name], **overrides.get(spec.name, {}))
    return settings


@asynccontextmanager
async def running_stack(
    backend: str,
    tmp_dir: Path,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    stocked: int = 5,
    platform_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """The stack on ``backend`` ("sqlite", "postgresql", "mariadb"); ``overrides`` are per-service
    settings (``{"orders": {"lease_seconds": 2}}``), ``platform_overrides`` the platform's
    (``{"environment": "production", ...}``); waits for stock of the first ``stocked`` products."""
    platform = platform_for_tests(tmp_dir, jwks_file=None, **(platform_overrides or {}))
    overrides = overrides or {}
    if backend == "postgresql":
        # eight pools of 20 would pass PostgreSQL's default 100 connections under load
        overrides = {name: {"database_pool_size": POSTGRES_POOL, **overrides.get(name, {})} for name in SERVICES}
    async with service_databases(backend, SERVICES, tmp_dir) as urls:
        settings = _settings(SERVICES, urls, overrides)
        async with running_services(specs(), platform, settings, seed=True) as (client, embedded):
            stack = Stack(client, embedded)
            if stocked:
                await stack.wait_for_stock(product["sku"] for product in await stack.products(stocked))
            yield stack


__all__ = [
    "ADDRESS",
    "DECLINED_CARD",
    "GOOD_CARD",
    "PROVIDER_ERROR_CARD",
    "SERVICES",
    "Stack",
    "User",
    "eventually",
    "running_stack",
]
