"""Catalog and recommendations together, each on its own database: the seeded catalog reaches the
recommender through real catalog events, the similarity model follows (rebuilt by the periodic task,
not per event), a withdrawn product disappears, and the served counter counts by reason."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import catalog, recommendations
from agora.services.catalog.models import Product as CatalogProduct
from agora.services.recommendations import metrics
from agora.services.recommendations.models import Product
from agora.services.recommendations.runtime import recommendations_runtime

from .conftest import bearer

DEADLINE_SECONDS = 60.0


@pytest.fixture(scope="module")
async def pair(
    database_backend: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    tmp = tmp_path_factory.mktemp("catalog-recommendations")
    async with service_databases(database_backend, ["catalog", "recommendations"], tmp) as urls:
        platform = platform_for_tests(tmp, jwks_file=jwks_file)
        settings = {
            "catalog": catalog.CatalogSettings(database_url=urls["catalog"]),
            "recommendations": recommendations.RecommendationsSettings(
                database_url=urls["recommendations"], model_refresh_seconds=0.5
            ),
        }
        specs = [catalog.spec, recommendations.spec]
        async with running_services(specs, platform, settings, seed=True) as running:
            yield running


def _words(product: dict[str, Any]) -> set[str]:
    text = " ".join([product["name"], product["description"], *product["tags"]]).lower()
    return set(re.findall(r"\w\w+", text))


async def _catalog_ids(embedded: Any) -> set[str]:
    async with embedded.contexts["catalog"].sessions() as session:
        return set((await session.scalars(select(CatalogProduct.id))).all())


async def test_the_seeded_catalog_is_indexed_and_similar_products_are_alike(
    pair: tuple[httpx.AsyncClient, Any],
) -> None:
    client, embedded = pair
    context = embedded.contexts["recommendations"]
    ids = await _catalog_ids(embedded)
    assert len(ids) >= 100

    async def indexed() -> bool:
        holder = recommendations_runtime(context).similarity
        return holder.watermark is not None and holder.watermark.products >= len(ids) and len(holder.model) >= len(ids)

    await eventually(indexed, what="the seeded catalog in the similarity model", within=DEADLINE_SECONDS)
    async with context.sessions() as session:
        assert int(await session.scalar(select(func.count()).select_from(Product)) or 0) == len(ids)
    builds = recommendations_runtime(context).similarity.builds
    assert builds <= len(ids) // 2  # debounced: not one build per product event

    served_before = metrics.served_total.labels("similar")._value.get()
    checked = 0
    for product_id in sorted(ids)[:10]:
        product = (await client.get(f"/api/catalog/products/{product_id}")).json()
        response = await client.get(f"/api/recommendations/products/{product_id}", params={"limit": 5})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert len(items) == 5 and product_id not in {item["product_id"] for item in items}
        for item in items:
            assert item["reason"] == "similar"  # nothing was bought yet
            other = (await client.get(f"/api/catalog/products/{item['product_id']}")).json()
            assert other["active"]
            assert other["category"]["slug"] == product["category"]["slug"] or _words(other) & _words(product)
            checked += 1
    assert metrics.served_total.labels("similar")._value.get() - served_before == checked


async def test_a_withdrawn_product_is_no_longer_recommended(
    pair: tuple[httpx.AsyncClient, Any], token_factory: TokenFactory
) -> None:
    client, _ = pair
    ids = sorted(await _catalog_ids(pair[1]))
    source = ids[0]

    async def shown() -> list[str]:
        response = await client.get(f"/api/recommendations/products/{source}", params={"limit": 3})
        return [item["product_id"] for item in response.json()["items"]]

    first = (await eventually(shown, what="recommendations", within=DEADLINE_SECONDS))[0]
    admin = bearer(token_factory(roles=["admin"], subject="admin-1"))
    assert (await client.delete(f"/api/catalog/products/{first}", headers=admin)).status_code == 204

    async def gone() -> list[str] | None:
        current = await shown()
        return current if first not in current and len(current) == 3 else None

    await eventually(gone, what=f"{first} withdrawn from the recommendations", within=DEADLINE_SECONDS)
