"""Catalog + cart running together in-process, each on its own database, for each cart store.

``cart_backend`` runs every test module four times: the SQL store on SQLite, PostgreSQL and
MariaDB, and the Redis store on the machine's Redis (with its messaging tables on SQLite). The
Redis store uses a key prefix of its own per module, deleted at the end, so runs never see each
other's carts. The catalog's read cache is off so a price change shows at once (the cache's
staleness is the catalog's documented behaviour, not the cart's).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.services import cart, catalog
from agora.services.cart.models import CartItem
from agora.services.cart.settings import CartSettings, StoreKind
from agora.services.catalog import CatalogSettings

API = "/api/cart"
CATALOG = "/api/catalog"
CART_BACKENDS = ("sqlite", "postgresql", "mariadb", "redis")

Snapshot = dict[str, dict[str, int]]


@pytest.fixture(params=CART_BACKENDS, scope="module")
def cart_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class CartApp:
    client: httpx.AsyncClient
    embedded: Any
    redis: Redis | None
    prefix: str

    @property
    def context(self) -> Any:
        return self.embedded.contexts["cart"]

    async def snapshot(self) -> Snapshot:
        """Every cart in the store, owner → {product id: quantity}: what "nothing changed" is checked against."""
        carts: Snapshot = {}
        if self.redis is not None:
            async for key in self.redis.scan_iter(match=f"{self.prefix}*"):
                carts[key.removeprefix(self.prefix)] = {k: int(v) for k, v in (await self.redis.hgetall(key)).items()}
            return carts
        async with self.context.sessions() as session:
            for row in await session.execute(select(CartItem.owner, CartItem.product_id, CartItem.quantity)):
                carts.setdefault(row.owner, {})[row.product_id] = row.quantity
        return carts

    async def product_ids(self, count: int) -> list[str]:
        response = await self.client.get(f"{CATALOG}/products", params={"limit": count, "sort": "name"})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    async def create_product(self, admin_token: str, *, price: int = 1000, active: bool = True) -> dict[str, Any]:
        body = {
            "sku": f"CART-{uuid.uuid4().hex[:10].upper()}",
            "name": "Cart test product",
            "price": {"amount": price, "currency": "USD"},
            "category": "footwear",
            "active": active,
        }
        response = await self.client.post(f"{CATALOG}/products", json=body, headers=bearer(admin_token))
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture(scope="module")
async def cart_app(
    cart_backend: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[CartApp]:
    tmp = tmp_path_factory.mktemp("cart")
    use_redis = cart_backend == "redis"
    redis_url = str(request.getfixturevalue("redis_url")) if use_redis else None
    prefix = f"agora-test-{uuid.uuid4().hex[:10]}:cart:"
    async with service_databases("sqlite" if use_redis else cart_backend, ["catalog", "cart"], tmp) as urls:
        platform = platform_for_tests(tmp, jwks_file=jwks_file, redis_url=redis_url)
        settings = {
            "catalog": CatalogSettings(database_url=urls["catalog"], read_cache_ttl=0),
            "cart": CartSettings(
                database_url=urls["cart"],
                redis_key_prefix=prefix,
                store=StoreKind.redis if use_redis else StoreKind.sql,
            ),
        }
        redis = Redis.from_url(redis_url, decode_responses=True) if redis_url else None
        try:
            async with running_services([catalog.spec, cart.spec], platform, settings, seed=True) as (client, embedded):
                yield CartApp(client, embedded, redis, prefix)
        finally:
            if redis is not None:
                keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
                if keys:
                    await redis.delete(*keys)
                await redis.aclose()


@pytest.fixture
async def user_token(token_factory: Any) -> str:
    """A customer nobody else in the module is: their cart starts empty."""
    return str(token_factory(roles=["customer"], subject=f"user-{uuid.uuid4().hex[:12]}"))


@pytest.fixture(scope="module")
def service_token(token_factory: Any) -> str:
    return str(token_factory(roles=["service"], subject="service:orders"))
