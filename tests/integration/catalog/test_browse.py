"""Browsing the seeded catalog over HTTP: lists, filters, search, pagination, conditional GET.

This module only reads, so the seeded data is exactly what :func:`build_catalog` describes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from agora.contracts.media import demo_image_id
from agora.services.catalog import repository
from agora.services.catalog.repository import CatalogRepository
from agora.services.catalog.seed import build_catalog

from .conftest import Catalog

SEED_CATEGORIES, SEED_PRODUCTS = build_catalog()
API = "/api/catalog"


async def all_pages(catalog: Catalog, params: dict[str, Any], *, headers: dict[str, str] | None = None) -> list[dict]:
    """Follows next_cursor to the end; fails on a repeated cursor (an endless loop)."""
    items: list[dict] = []
    cursors: set[str] = set()
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await catalog.client.get(f"{API}/products", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= int(params.get("limit", 20))
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert page["items"], "a page with a next cursor must not be empty"
        assert cursor not in cursors
        cursors.add(cursor)


def skus(items: list[dict]) -> list[str]:
    return [item["sku"] for item in items]


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("newest", lambda p: (p["created_at"], p["id"]), True),
        ("price_asc", lambda p: (p["price"]["amount"], p["id"]), False),
        ("price_desc", lambda p: (p["price"]["amount"], p["id"]), True),
        ("name", None, False),
    ],
)
async def test_pages_through_every_seeded_product_exactly_once(catalog: Catalog, sort, key, reverse) -> None:
    items = await all_pages(catalog, {"limit": 37, "sort": sort})
    seen = Counter(skus(items))
    assert all(count == 1 for count in seen.values()), [sku for sku, n in seen.items() if n > 1]
    assert set(seen) == {product.sku for product in SEED_PRODUCTS}
    assert len(items) == await catalog.active_count() >= 200
    if key is not None:
        assert items == sorted(items, key=key, reverse=reverse)


async def test_default_page_is_twenty_newest_first(catalog: Catalog) -> None:
    response = await catalog.client.get(f"{API}/products")
    page = response.json()
    assert len(page["items"]) == 20 and page["next_cursor"]
    assert page["items"][0]["sku"] == SEED_PRODUCTS[-1].sku
    product = page["items"][0]
    assert set(product) == {
        "id", "sku", "name", "description", "price", "category", "tags", "images",
        "active", "version", "created_at", "updated_at",
    }  # fmt: skip
    assert set(product["price"]) == {"amount", "currency"} and isinstance(product["price"]["amount"], int)
    assert set(product["category"]) == {"id", "slug", "name"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "footwear"}, lambda p: p.category_slug == "footwear"),
        ({"category": "books", "max_price": 2000}, lambda p: p.category_slug == "books" and p.price_amount <= 2000),
        ({"min_price": 10000, "max_price": 20000}, lambda p: 10000 <= p.price_amount <= 20000),
        ({"min_price": 30000}, lambda p: p.price_amount >= 30000),
        ({"tag": "waterproof"}, lambda p: "waterproof" in p.tags),
        ({"tag": ["waterproof", "camping"]}, lambda p: {"waterproof", "camping"} <= set(p.tags)),
        (
            {"tag": "bestseller", "category": "kitchen"},
            lambda p: "bestseller" in p.tags and p.category_slug == "kitchen",
        ),
        ({"currency": "USD"}, lambda p: True),
        ({"currency": "EUR"}, lambda p: False),
        ({"category": "no-such-category"}, lambda p: False),
        ({"tag": "no-such-tag"}, lambda p: False),
    ],
)
@pytest.mark.parametrize("sort", ["price_asc", "name"])
async def test_filters_page_to_exactly_the_matching_products(catalog: Catalog, params, expected, sort) -> None:
    items = await all_pages(catalog, {**params, "limit": 7, "sort": sort})
    assert sorted(skus(items)) == sorted(p.sku for p in SEED_PRODUCTS if expected(p))


async def test_search_finds_and_ranks_by_relevance(catalog: Catalog) -> None:
    response = await catalog.client.get(f"{API}/products", params={"q": "hiking boot", "limit": 100})
    assert response.status_code == 200
    items = response.json()["items"]
    boots = {p.sku for p in SEED_PRODUCTS if "Hiking Boot" in p.name}
    assert boots <= set(skus(items))
    assert items[0]["sku"] in boots

    # "merino" names six sweaters and is only in the description of some cycling jerseys:
    # every name hit must rank above every description-only hit
    response = await catalog.client.get(f"{API}/products", params={"q": "merino", "limit": 100})
    items = response.json()["items"]
    in_name = [i for i, item in enumerate(items) if "merino" in item["name"].lower()]
    elsewhere = [i for i, item in enumerate(items) if "merino" not in item["name"].lower()]
    assert len(in_name) == 6 and elsewhere
    assert max(in_name) < min(elsewhere)
    assert {p.sku for p in SEED_PRODUCTS if "merino" in (p.name + p.description).lower()} == set(skus(items))


async def test_search_prefix_tags_and_filters_combine(catalog: Catalog) -> None:
    response = await catalog.client.get(f"{API}/products", params={"q": "headpho", "limit": 100})
    assert {item["sku"] for item in response.json()["items"]} == {
        p.sku for p in SEED_PRODUCTS if "Headphones" in p.name
    }
    # a tag is part of the searchable document
    response = await catalog.client.get(f"{API}/products", params={"q": "bestseller", "limit": 100})
    assert len(response.json()["items"]) == sum("bestseller" in p.tags for p in SEED_PRODUCTS)
    items = await all_pages(catalog, {"q": "leather", "category": "footwear", "sort": "price_asc", "limit": 3})
    assert items and all(item["category"]["slug"] == "footwear" for item in items)
    assert items == sorted(items, key=lambda p: (p["price"]["amount"], p["id"]))


async def test_search_results_page_without_repeats(catalog: Catalog) -> None:
    full = (await catalog.client.get(f"{API}/products", params={"q": "cotton", "limit": 100})).json()
    assert full["next_cursor"] is None and len(full["items"]) > 6
    items = await all_pages(catalog, {"q": "cotton", "limit": 2})
    assert skus(items) == skus(full["items"])


async def test_search_pages_are_the_same_when_the_ranking_stops_early(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite ranks the best few matches first and joins only those; with a window as small as the
    # page, every page either ends inside it or needs the fallback to all matches
    full = (await catalog.client.get(f"{API}/products", params={"q": "cotton", "limit": 100})).json()["items"]
    slugs = Counter(item["category"]["slug"] for item in full)
    slug, count = slugs.most_common()[-1]
    assert 0 < count < len(full)
    monkeypatch.setattr(repository, "SEARCH_WINDOW_MIN", 1)
    monkeypatch.setattr(repository, "SEARCH_WINDOW_FACTOR", 1)
    assert skus(await all_pages(catalog, {"q": "cotton", "limit": 2})) == skus(full)
    filtered = await all_pages(catalog, {"q": "cotton", "category": slug, "limit": 2})
    assert skus(filtered) == [item["sku"] for item in full if item["category"]["slug"] == slug]


async def test_a_product_reads_the_same_through_the_driver_as_through_sqlalchemy(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL's by-id and by-sku reads go to asyncpg itself; the other databases (and sampled
    # traces) keep SQLAlchemy's path: both must give the same ProductView
    seeded = SEED_PRODUCTS[3]

    async def reads() -> tuple[Any, ...]:
        async with catalog.context.read_sessions() as session:
            repo = CatalogRepository(session)
            by_sku = await repo.get_product_by_sku(seeded.sku)
            assert by_sku is not None
            return (
                by_sku,
                await repo.get_product(by_sku.id),
                await repo.get_product("00000000-0000-0000-0000-000000000000"),
                await repo.get_product_by_sku("NO-SUCH-SKU"),
                await CatalogRepository(session, include_inactive=True).get_product(by_sku.id),
            )

    driver_used: list[bool] = []
    real = CatalogRepository._driver_connection

    async def spying(self: CatalogRepository) -> Any:
        driver = await real(self)
        driver_used.append(driver is not None)
        return driver

    monkeypatch.setattr(CatalogRepository, "_driver_connection", spying)
    direct = await reads()
    assert any(driver_used) == (catalog.context.engine.dialect.name == "postgresql")

    async def none(_: CatalogRepository) -> None:
        return None

    monkeypatch.setattr(CatalogRepository, "_driver_connection", none)
    assert direct == await reads()
    assert direct[0].sku == seeded.sku and direct[0].created_at.tzinfo is not None
    assert direct[2] is None and direct[3] is None


@pytest.mark.parametrize(
    "q",
    [
        'boot" OR "1"="1',
        "NEAR(boot shoe, 2)",
        "boot AND NOT shoe",
        "-boot +shoe ~x <y >z @3 *",
        "name:boot ^boot",
        "'; DROP TABLE products; --",
        "<script>alert(1)</script>",
        "boot & shoe | !sock <-> x:*",
        '"unterminated (((',
        "\\ % _ %%",
        "the a an of",
        "tv 4k",
        "Straße café 👟",
        "!!!",
        "   ",
    ],
)
async def test_search_syntax_in_user_input_never_breaks_the_query(catalog: Catalog, q: str) -> None:
    response = await catalog.client.get(f"{API}/products", params={"q": q})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)
    assert await catalog.active_count() == len(SEED_PRODUCTS)


async def test_product_by_id_with_etag_and_304(catalog: Catalog) -> None:
    seeded = SEED_PRODUCTS[5]
    response = await catalog.client.get(f"{API}/products/{seeded.id}")
    assert response.status_code == 200
    body = response.json()
    assert (body["sku"], body["name"], body["price"]) == (
        seeded.sku,
        seeded.name,
        {"amount": seeded.price_amount, "currency": "USD"},
    )
    etag = response.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    cached = await catalog.client.get(f"{API}/products/{seeded.id}", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
    weak = await catalog.client.get(f"{API}/products/{seeded.id}", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    stale = await catalog.client.get(f"{API}/products/{seeded.id}", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.json() == body

    by_sku = await catalog.client.get(f"{API}/products/by-sku/{seeded.sku}")
    assert by_sku.status_code == 200 and by_sku.json() == body and by_sku.headers["etag"] == etag


@pytest.mark.parametrize(
    "path",
    [
        "/products/00000000-0000-4000-8000-000000000000",
        "/products/not-a-uuid",
        "/products/by-sku/NOPE-0000",
        "/categories/no-such-category",
    ],
)
async def test_unknown_resources_are_404_problems(catalog: Catalog, path: str) -> None:
    response = await catalog.client.get(API + path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_categories(catalog: Catalog) -> None:
    response = await catalog.client.get(f"{API}/categories")
    page = response.json()
    assert page["next_cursor"] is None
    assert [c["slug"] for c in page["items"]] == sorted(c.slug for c in SEED_CATEGORIES)
    slugs, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await catalog.client.get(f"{API}/categories", params=params)).json()
        slugs += [c["slug"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert slugs == sorted(c.slug for c in SEED_CATEGORIES)
    one = await catalog.client.get(f"{API}/categories/kitchen")
    assert one.status_code == 200 and one.json()["name"] == "Kitchen & Dining"
    assert (
        await catalog.client.get(f"{API}/categories/kitchen", headers={"If-None-Match": one.headers["etag"]})
    ).status_code == 304


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 100000}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"min_price": -1}, "query.min_price"),
        ({"max_price": 10**12}, "query.max_price"),
        ({"min_price": 500, "max_price": 100}, "min_price"),
        ({"sort": "cheapest"}, "query.sort"),
        ({"sort": "relevance"}, "sort"),
        ({"q": "x" * 201}, "query.q"),
        ({"category": "Not A Slug"}, "query.category"),
        ({"tag": "UPPER"}, "query.tag.0"),
        ({"currency": "usd"}, "query.currency"),
        ({"currency": "XXX"}, "query.currency"),
        ({"active": "maybe"}, "query.active"),
    ],
)
async def test_bad_list_parameters_are_4xx_naming_the_parameter(catalog: Catalog, params, field) -> None:
    response = await catalog.client.get(f"{API}/products", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_tampered_or_foreign_cursors_are_422_naming_the_cursor(catalog: Catalog) -> None:
    page = (await catalog.client.get(f"{API}/products", params={"limit": 5, "sort": "price_asc"})).json()
    cursor = page["next_cursor"]
    payload, signature = cursor.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (flipped + "." + signature, payload + "." + signature[::-1], "garbage", cursor + "x", "a.b.c"):
        response = await catalog.client.get(f"{API}/products", params={"limit": 5, "sort": "price_asc", "cursor": bad})
        assert response.status_code == 422, (bad, response.text)
        assert "query.cursor" in [error["field"] for error in response.json()["errors"]]
    # a genuine cursor replayed against a different query
    for other in ({"limit": 5, "sort": "name"}, {"limit": 5, "sort": "price_asc", "category": "books"}):
        response = await catalog.client.get(f"{API}/products", params={**other, "cursor": cursor})
        assert response.status_code == 422
        assert "query.cursor" in [error["field"] for error in response.json()["errors"]]
    # a products cursor on the categories list
    response = await catalog.client.get(f"{API}/categories", params={"cursor": cursor})
    assert response.status_code == 422
    assert "query.cursor" in [error["field"] for error in response.json()["errors"]]


async def test_openapi_documents_every_route(catalog: Catalog) -> None:
    response = await catalog.client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        f"{API}/products",
        f"{API}/products/{{product_id}}",
        f"{API}/products/by-sku/{{sku}}",
        f"{API}/categories",
        f"{API}/categories/{{slug}}",
    } <= set(paths)
    assert {"get", "patch", "delete"} <= set(paths[f"{API}/products/{{product_id}}"])


async def test_seeded_products_name_their_demo_media_image(catalog: Catalog) -> None:
    # the media service draws and serves these (tests/integration/media/test_with_catalog.py)
    products = (await catalog.client.get("/api/catalog/products", params={"limit": 20})).json()["items"]
    for product in products:
        assert product["images"] == [demo_image_id(product["id"])]


async def test_placeholder_images_of_older_data_are_still_served(catalog: Catalog) -> None:
    response = await catalog.client.get("/api/catalog/placeholders/footwear/boot.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content.startswith(b"<svg")
    bad = await catalog.client.get("/api/catalog/placeholders/%3Cscript%3E/x.svg")
    assert bad.status_code == 422
