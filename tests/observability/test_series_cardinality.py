"""A thousand distinct products and users do not make a thousand series: ids never become label
values (routes are templates, business counters are labelled by closed sets), so the series count
a scrape of ``/metrics`` returns is the same before and after them."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.databases import service_databases
from agora.services import analytics, cart, catalog
from agora.services.analytics import AnalyticsSettings
from agora.services.cart.settings import CartSettings
from agora.services.catalog import CatalogSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

DISTINCT = 1000
#: requests in flight at once: enough to keep the event loop busy, few enough for SQLite's writer
BATCH = 25


@pytest.fixture(scope="module")
async def shop(jwks_file: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    tmp = tmp_path_factory.mktemp("cardinality")
    async with service_databases("sqlite", ["catalog", "cart", "analytics"], tmp) as urls:
        platform = platform_for_tests(tmp, jwks_file=jwks_file)
        settings = {
            "catalog": CatalogSettings(database_url=urls["catalog"]),
            "cart": CartSettings(database_url=urls["cart"]),
            "analytics": AnalyticsSettings(database_url=urls["analytics"]),
        }
        specs = [catalog.spec, cart.spec, analytics.spec]
        async with running_services(specs, platform, settings, seed=True) as (client, _):
            yield client


async def series_per_family(client: httpx.AsyncClient) -> Counter[str]:
    """How many series each metric family has in a scrape of the app's ``/metrics``."""
    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    return Counter(family.name for family in text_string_to_metric_families(scrape.text) for _ in family.samples)


def sample(families: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(families):
        for each in family.samples:
            if each.name == name and labels.items() <= each.labels.items():
                return float(each.value)
    raise AssertionError(f"{name}{labels} not exported")


async def product_ids(client: httpx.AsyncClient) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await client.get(
            "/api/catalog/products", params={"limit": 100, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        ids += [item["id"] for item in page.json()["items"]]
        if (cursor := page.json()["next_cursor"]) is None:
            return ids


async def in_batches(count: int, one: Callable[[int], Awaitable[None]]) -> None:
    for start in range(0, count, BATCH):
        await asyncio.gather(*(one(index) for index in range(start, min(count, start + BATCH))))


async def test_a_thousand_products_and_users_add_no_series(
    shop: httpx.AsyncClient, token_factory: TokenFactory
) -> None:
    seeded = await product_ids(shop)
    assert seeded

    async def visit(index: int, product_id: str | None = None) -> None:
        """One visitor: a product page by id, a product that does not exist, a view, a cart add, the cart."""
        user = {"Authorization": f"Bearer {token_factory(subject=f'shopper-{uuid.uuid4()}')}"}
        known = product_id or seeded[index % len(seeded)]
        unknown = str(uuid.uuid4())
        assert (await shop.get(f"/api/catalog/products/{known}")).status_code == 200
        assert (await shop.get(f"/api/catalog/products/{unknown}")).status_code == 404
        viewed = await shop.post(
            "/api/analytics/events", json={"type": "product_view", "product_id": unknown}, headers=user
        )
        assert viewed.status_code == 202, viewed.text
        added = await shop.post("/api/cart/items", json={"product_id": known, "quantity": 1}, headers=user)
        assert added.status_code in (200, 201), added.text
        refused = await shop.post("/api/cart/items", json={"product_id": unknown, "quantity": 1}, headers=user)
        assert refused.status_code in (404, 422), refused.text
        assert (await shop.get("/api/cart", headers=user)).status_code == 200

    # every route and status once, so the label sets they make exist before counting
    await visit(0)
    before = await series_per_family(shop)
    adds_before = sample((await shop.get("/metrics")).text, "agora_cart_operations_total", {"operation": "add"})

    await in_batches(DISTINCT, visit)

    after = await series_per_family(shop)
    scrape = (await shop.get("/metrics")).text
    # the traffic was counted (so the scrape is the live registry), in the same series as before
    assert sample(scrape, "agora_cart_operations_total", {"operation": "add"}) == adds_before + DISTINCT
    assert sample(scrape, "agora_analytics_events_total", {"type": "product_view"}) >= DISTINCT
    grown = {name: (before[name], count) for name, count in after.items() if count != before[name]}
    assert grown == {}, f"series per family grew with distinct ids (before, after): {grown}"
    assert sum(after.values()) == sum(before.values()) > 200
