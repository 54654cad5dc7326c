"""Dependencies down: the catalog (the cart degrades) and Redis (the cart answers 503, nothing else notices).

Both run the cart as its own process would (its own app, calling the catalog over HTTP), with the
dependency pointed at a loopback port where nothing listens: a stopped server, without stopping
the machine's shared ones.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from agora.platform.http.app import create_service_app
from agora.platform.runtime import migrate_service
from agora.platform.settings import PlatformSettings
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.services import cart, catalog
from agora.services.cart.repository import SqlCartStore
from agora.services.cart.settings import CartSettings, StoreKind
from agora.services.cart.store import Limits
from agora.services.catalog import CatalogSettings

from .conftest import API, bearer

PRODUCT = str(uuid.UUID(int=42))


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def standalone_cart(
    platform: PlatformSettings, settings: CartSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The cart alone, as ``agora serve cart`` runs it: other services only over HTTP."""
    await migrate_service(cart.spec, platform, settings)
    app = create_service_app(cart.spec, platform, settings)
    async with app.router.lifespan_context(app) as state:
        context = state["context"]

        async def served(scope: Any, receive: Any, send: Any) -> None:
            # what a server does with the lifespan state: every request sees a copy
            await app({**scope, "state": dict(state)}, receive, send)

        transport = httpx.ASGITransport(app=served, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            yield client, context


@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_catalog_down_degrades_reads_and_refuses_writes(
    store: str, jwks_file: Path, tmp_path: Path, token_factory: Any, request: pytest.FixtureRequest
) -> None:
    redis_url = str(request.getfixturevalue("redis_url")) if store == "redis" else None
    prefix = f"agora-test-{uuid.uuid4().hex[:10]}:cart:"
    platform = platform_for_tests(
        tmp_path,
        jwks_file=jwks_file,
        redis_url=redis_url,
        service_urls={"catalog": f"http://127.0.0.1:{closed_port()}"},
    )
    settings = CartSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cart.db'}",
        redis_key_prefix=prefix,
        store=StoreKind.redis if redis_url else StoreKind.sql,
    )
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    auth = bearer(token_factory(subject=user_id))
    owner = f"user:{user_id}"
    redis = Redis.from_url(redis_url, decode_responses=True) if redis_url else None
    try:
        async with standalone_cart(platform, settings) as (client, context):
            # a line already in the cart (put there while the catalog was up)
            limits = Limits(99, 50, 3600)
            if redis is not None:
                await redis.hset(f"{prefix}{owner}", PRODUCT, 3)
            else:
                async with context.sessions() as session:
                    await SqlCartStore(session).add(owner, PRODUCT, 3, limits)
                    await session.commit()

            read = await client.get(API, headers=auth)
            assert read.status_code == 200, read.text
            body = read.json()
            assert body["pricing"] == "unavailable" and body["subtotal"] is None
            assert body["item_count"] == 3
            assert body["items"] == [
                {
                    "product_id": PRODUCT,
                    "sku": None,
                    "name": None,
                    "quantity": 3,
                    "unit_price": None,
                    "line_total": None,
                    "available": None,
                }
            ]

            write = await client.post(f"{API}/items", json={"product_id": PRODUCT}, headers=auth)
            assert write.status_code == 503, write.text
            assert write.headers["content-type"] == "application/problem+json"
            assert int(write.headers["retry-after"]) >= 1
            # removing needs no catalog, and still works
            assert (await client.get(API, headers=auth)).json()["item_count"] == 3
            removed = await client.delete(f"{API}/items/{PRODUCT}", headers=auth)
            assert removed.status_code == 200 and removed.json()["items"] == []
    finally:
        if redis is not None:
            await redis.delete(f"{prefix}{owner}")
            await redis.aclose()


@pytest.mark.backend("sqlite")
async def test_redis_down_answers_503_and_the_catalog_keeps_working(
    jwks_file: Path, tmp_path: Path, token_factory: Any
) -> None:
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    auth = bearer(token_factory(subject="user-redis-down"))
    async with service_databases("sqlite", ["catalog", "cart"], tmp_path) as urls:
        settings = {
            "catalog": CatalogSettings(database_url=urls["catalog"]),
            "cart": CartSettings(database_url=urls["cart"], redis_timeout_seconds=1.0),
        }
        async with running_services([catalog.spec, cart.spec], platform, settings, seed=True) as (client, _embedded):
            products = await client.get("/api/catalog/products", params={"limit": 1})
            assert products.status_code == 200
            product = products.json()["items"][0]["id"]
            for method, path, body in (
                ("GET", "", None),
                ("POST", "/items", {"product_id": product}),
                ("DELETE", "", None),
            ):
                response = await client.request(method, f"{API}{path}", json=body, headers=auth)
                assert response.status_code == 503, response.text
                assert response.headers["content-type"] == "application/problem+json"
                assert response.headers["retry-after"] == "1"
                assert "redis" not in response.text.lower(), "no internals reach the client"
            # the rest of the platform is untouched
            assert (await client.get(f"/api/catalog/products/{product}")).status_code == 200
            assert (await client.get("/healthz")).status_code == 200
            # readiness names the store that is down, and only that one
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            failing = {name for name, state in ready.json()["checks"].items() if state != "ok"}
            assert failing == {"cart.redis"}
