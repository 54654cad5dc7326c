"""Catalog and inventory running together, each on its own database: stock follows the catalog's events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.contracts.catalog import PRODUCT_CREATED
from agora.platform.messaging import inbox, outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import catalog, inventory
from agora.services.catalog.models import Product
from agora.services.inventory.handlers import CATALOG_CONSUMER
from agora.services.inventory.models import Stock
from agora.services.inventory.service import DEMO_STOCK_MAX, DEMO_STOCK_MIN, demo_quantity

from .conftest import bearer, new_reservation_id, new_sku

DEADLINE_SECONDS = 60.0


@pytest.fixture(scope="module")
async def platform_pair(
    database_backend: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    tmp = tmp_path_factory.mktemp("catalog-inventory")
    async with service_databases(database_backend, ["catalog", "inventory"], tmp) as urls:
        platform = platform_for_tests(tmp, jwks_file=jwks_file)
        settings = {
            "catalog": catalog.CatalogSettings(database_url=urls["catalog"]),
            "inventory": inventory.InventorySettings(database_url=urls["inventory"]),
        }
        async with running_services([catalog.spec, inventory.spec], platform, settings, seed=True) as pair:
            yield pair


async def _catalog_skus(embedded: Any) -> list[str]:
    async with embedded.contexts["catalog"].sessions() as session:
        return list((await session.scalars(select(Product.sku))).all())


async def _stock_rows(embedded: Any) -> dict[str, int]:
    async with embedded.contexts["inventory"].sessions() as session:
        return {row.sku: row.on_hand for row in (await session.execute(select(Stock.sku, Stock.on_hand))).all()}


async def test_seeded_products_get_demo_stock(platform_pair: tuple[httpx.AsyncClient, Any]) -> None:
    client, embedded = platform_pair
    skus = await _catalog_skus(embedded)
    assert len(skus) >= 100  # the demo catalog

    async def all_stocked() -> dict[str, int] | None:
        rows = await _stock_rows(embedded)
        return rows if set(skus) <= rows.keys() else None

    rows = await eventually(all_stocked, what="a stock row per seeded product", within=DEADLINE_SECONDS)
    for sku in skus:
        assert rows[sku] == demo_quantity(sku)
        assert DEMO_STOCK_MIN <= rows[sku] <= DEMO_STOCK_MAX
    assert len(set(rows.values())) > 10  # spread, not one number for all

    # the storefront's batch read sees them over HTTP
    response = await client.get("/api/inventory/stock", params={"sku": skus[:100]})
    assert response.status_code == 200 and len(response.json()["items"]) == 100


async def test_admin_created_product_starts_at_zero(
    platform_pair: tuple[httpx.AsyncClient, Any], token_factory: TokenFactory
) -> None:
    client, _ = platform_pair
    admin = bearer(token_factory(roles=["admin"], subject="admin-1"))
    sku = new_sku("NEW")
    body = {"sku": sku, "name": "Numbat Runner", "price": {"amount": 1999, "currency": "USD"}, "category": "footwear"}
    created = await client.post("/api/catalog/products", json=body, headers=admin)
    assert created.status_code == 201, created.text

    async def stocked() -> dict[str, Any] | None:
        response = await client.get(f"/api/inventory/stock/{sku}")
        return response.json() if response.status_code == 200 else None

    assert await eventually(stocked, what=f"stock for {sku}", within=DEADLINE_SECONDS) == {
        "sku": sku,
        "on_hand": 0,
        "reserved": 0,
        "available": 0,
    }


async def test_a_count_made_before_the_event_is_kept(
    platform_pair: tuple[httpx.AsyncClient, Any], token_factory: TokenFactory
) -> None:
    client, embedded = platform_pair
    admin = bearer(token_factory(roles=["admin"], subject="admin-1"))
    sku = new_sku("EARLY")
    counted = await client.put(f"/api/inventory/stock/{sku}", json={"on_hand": 33}, headers=admin)
    assert counted.status_code == 201
    body = {"sku": sku, "name": "Bilby Boot", "price": {"amount": 2999, "currency": "USD"}, "category": "footwear"}
    product = (await client.post("/api/catalog/products", json=body, headers=admin)).json()

    async with embedded.contexts["catalog"].sessions() as session:
        event_id = await session.scalar(
            select(outbox.c.event_id).where(outbox.c.type == PRODUCT_CREATED, outbox.c.key == product["id"])
        )

    async def handled() -> bool:
        async with embedded.contexts["inventory"].sessions() as session:
            statement = (
                select(func.count())
                .select_from(inbox)
                .where(inbox.c.consumer == CATALOG_CONSUMER, inbox.c.event_id == event_id)
            )
            return bool(await session.scalar(statement))

    await eventually(handled, what="inventory to handle the product.created event", within=DEADLINE_SECONDS)
    assert (await client.get(f"/api/inventory/stock/{sku}")).json()["on_hand"] == 33


async def test_stock_and_held_lines_follow_a_sku_change(
    platform_pair: tuple[httpx.AsyncClient, Any], token_factory: TokenFactory
) -> None:
    client, _ = platform_pair
    admin = bearer(token_factory(roles=["admin"], subject="admin-1"))
    service = bearer(token_factory(roles=["service"], subject="service:orders"))
    old, new = new_sku("OLD"), new_sku("RENAMED")
    body = {"sku": old, "name": "Quokka Sandal", "price": {"amount": 2599, "currency": "USD"}, "category": "footwear"}
    product = (await client.post("/api/catalog/products", json=body, headers=admin)).json()

    async def exists(sku: str) -> Any:
        response = await client.get(f"/api/inventory/stock/{sku}")
        return response.json() if response.status_code == 200 else None

    await eventually(lambda: exists(old), what=f"stock for {old}", within=DEADLINE_SECONDS)
    assert (await client.put(f"/api/inventory/stock/{old}", json={"on_hand": 12}, headers=admin)).status_code == 200
    reservation = {"reservation_id": new_reservation_id(), "items": [{"sku": old, "quantity": 2}]}
    assert (await client.post("/api/inventory/reservations", json=reservation, headers=service)).status_code == 201

    renamed = await client.patch(f"/api/catalog/products/{product['id']}", json={"sku": new}, headers=admin)
    assert renamed.status_code == 200, renamed.text

    moved = await eventually(lambda: exists(new), what=f"stock moved to {new}", within=DEADLINE_SECONDS)
    assert moved == {"sku": new, "on_hand": 12, "reserved": 2, "available": 10}
    assert (await client.get(f"/api/inventory/stock/{old}")).status_code == 404
    # the reservation held under the old sku commits against the new one
    committed = await client.post(
        f"/api/inventory/reservations/{reservation['reservation_id']}/commit", headers=service
    )
    assert committed.status_code == 200, committed.text
    assert await exists(new) == {"sku": new, "on_hand": 10, "reserved": 0, "available": 10}
