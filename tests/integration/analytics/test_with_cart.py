"""Catalog, cart and analytics together, each on its own database: a cart addition reaches the
funnel through the cart's outbox, the relay and analytics' consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora.platform.db.types import utcnow
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import analytics, cart, catalog
from agora.services.cart.settings import CartSettings, StoreKind

from .conftest import API, bearer


@pytest.fixture(scope="module")
async def trio(
    database_backend: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    tmp = tmp_path_factory.mktemp("analytics-cart")
    async with service_databases(database_backend, ["catalog", "cart", "analytics"], tmp) as urls:
        platform = platform_for_tests(tmp, jwks_file=jwks_file)
        settings = {
            "catalog": catalog.CatalogSettings(database_url=urls["catalog"]),
            "cart": CartSettings(database_url=urls["cart"], store=StoreKind.sql),
            "analytics": analytics.AnalyticsSettings(database_url=urls["analytics"]),
        }
        specs = [catalog.spec, cart.spec, analytics.spec]
        async with running_services(specs, platform, settings, seed=True) as (client, embedded):
            yield client, embedded


async def test_cart_additions_reach_the_funnel(
    trio: tuple[httpx.AsyncClient, Any], token_factory: TokenFactory
) -> None:
    client, _ = trio
    admin = bearer(token_factory(roles=["admin"], subject="admin-1"))
    product = await client.post(
        "/api/catalog/products",
        json={
            "sku": "ANALYTICS-1",
            "name": "Funnel test product",
            "price": {"amount": 1000, "currency": "USD"},
            "category": "footwear",
        },
        headers=admin,
    )
    assert product.status_code == 201, product.text
    product_id = product.json()["id"]
    today = utcnow().date().isoformat()

    async def funnel() -> dict[str, Any]:
        response = await client.get(f"{API}/orders/summary", params={"from": today, "to": today}, headers=admin)
        assert response.status_code == 200, response.text
        return dict(response.json()["funnel"])

    assert (await funnel())["carts"] == 0
    shopper = bearer(token_factory(roles=["customer"], subject="shopper-1"))
    for quantity in (1, 2):
        body = {"product_id": product_id, "quantity": quantity}
        added = await client.post("/api/cart/items", json=body, headers=shopper)
        assert added.status_code == 200, added.text
    viewed = await client.post(f"{API}/events", json={"type": "product_view", "product_id": product_id})
    assert viewed.status_code == 202, viewed.text

    async def two_additions() -> dict[str, Any] | None:
        counts = await funnel()
        return counts if counts["carts"] >= 2 else None

    counts = await eventually(two_additions, within=30, what="the cart additions in analytics' funnel")
    assert (counts["views"], counts["carts"], counts["checkouts"]) == (1, 2, 0)
    assert counts["rates"]["view_to_cart"] == 2.0
