"""The read cache never shows a visitor a product older than the last committed write in this process."""

from __future__ import annotations

from .conftest import Catalog, bearer

API = "/api/catalog"


async def _some_product(catalog: Catalog) -> dict:  # type: ignore[type-arg]
    return (await catalog.client.get(f"{API}/products", params={"limit": 1, "sort": "name"})).json()["items"][0]


async def test_a_write_is_visible_at_once_despite_the_cache(catalog: Catalog, admin_token: str) -> None:
    product = await _some_product(catalog)
    path = f"{API}/products/{product['id']}"
    first = await catalog.client.get(path)
    cached = await catalog.client.get(path)
    assert cached.content == first.content and cached.headers["etag"] == first.headers["etag"]
    assert catalog.context.read_cache.stats.hits >= 1

    new_amount = product["price"]["amount"] + 1
    patch = await catalog.client.patch(
        path,
        json={"price": {"amount": new_amount, "currency": product["price"]["currency"]}},
        headers=bearer(admin_token),
    )
    assert patch.status_code == 200, patch.text
    after = await catalog.client.get(path)
    assert after.json()["price"]["amount"] == new_amount
    assert after.headers["etag"] != first.headers["etag"]
    by_sku = await catalog.client.get(f"{API}/products/by-sku/{product['sku']}")
    assert by_sku.json()["price"]["amount"] == new_amount


async def test_a_deleted_product_disappears_for_visitors_at_once(catalog: Catalog, admin_token: str) -> None:
    product = (await catalog.client.get(f"{API}/products", params={"limit": 1, "sort": "price_desc"})).json()["items"][
        0
    ]
    path = f"{API}/products/{product['id']}"
    assert (await catalog.client.get(path)).status_code == 200  # now cached
    assert (await catalog.client.delete(path, headers=bearer(admin_token))).status_code == 204
    assert (await catalog.client.get(path)).status_code == 404
    assert (await catalog.client.get(path, headers=bearer(admin_token))).json()["active"] is False
    restored = await catalog.client.patch(path, json={"active": True}, headers=bearer(admin_token))
    assert restored.status_code == 200
    assert (await catalog.client.get(path)).status_code == 200


async def test_a_failed_write_keeps_the_cache(catalog: Catalog, admin_token: str) -> None:
    product = await _some_product(catalog)
    path = f"{API}/products/{product['id']}"
    await catalog.client.get(path)
    entries = len(catalog.context.read_cache)
    bad = await catalog.client.patch(
        path, json={"price": {"amount": -5, "currency": "USD"}}, headers=bearer(admin_token)
    )
    assert bad.status_code == 422
    assert len(catalog.context.read_cache) == entries


async def test_an_admin_browser_session_sees_withdrawn_products(catalog: Catalog, admin_token: str) -> None:
    product = (await catalog.client.get(f"{API}/products", params={"limit": 1, "sort": "price_asc"})).json()["items"][0]
    path = f"{API}/products/{product['id']}"
    assert (await catalog.client.get(path)).status_code == 200  # cached for visitors
    assert (await catalog.client.delete(path, headers=bearer(admin_token))).status_code == 204
    try:
        # the session cookie, not a header, carries the admin's token: the cache must not answer
        by_cookie = await catalog.client.get(path, headers={"Cookie": f"agora_access={admin_token}"})
        assert by_cookie.status_code == 200 and by_cookie.json()["active"] is False
        assert (await catalog.client.get(path)).status_code == 404
    finally:
        await catalog.client.patch(path, json={"active": True}, headers=bearer(admin_token))
