"""The cart over HTTP with the catalog beside it: lines, bounds, pricing, anonymous carts, merging,
isolation between users and the internal routes of the checkout saga, on every store."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agora.contracts.cart import CART_COOKIE, CART_ID_HEADER
from agora.platform.peers import runtime_in
from agora.services.cart.runtime import CartRuntime

from .conftest import API, CATALOG, CartApp, bearer


def lines(response: httpx.Response) -> dict[str, int]:
    return {item["product_id"]: item["quantity"] for item in response.json()["items"]}


async def test_an_empty_cart_needs_no_id(cart_app: CartApp, user_token: str) -> None:
    anonymous = await cart_app.client.get(API)
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json() == {
        "id": None,
        "items": [],
        "subtotal": {"amount": 0, "currency": "USD"},
        "item_count": 0,
        "pricing": "ok",
    }
    assert CART_COOKIE not in anonymous.cookies
    signed_in = await cart_app.client.get(API, headers=bearer(user_token))
    assert signed_in.json()["items"] == [] and signed_in.json()["id"].startswith("user:")


async def test_add_update_remove_clear(cart_app: CartApp, user_token: str) -> None:
    first, second = await cart_app.product_ids(2)
    auth = bearer(user_token)

    added = await cart_app.client.post(f"{API}/items", json={"product_id": first, "quantity": 2}, headers=auth)
    assert added.status_code == 200, added.text
    assert lines(added) == {first: 2}
    again = await cart_app.client.post(f"{API}/items", json={"product_id": first, "quantity": 3}, headers=auth)
    assert lines(again) == {first: 5}, "adding a product already in the cart adds up the quantities"
    default = await cart_app.client.post(f"{API}/items", json={"product_id": second}, headers=auth)
    assert lines(default) == {first: 5, second: 1}
    assert [item["product_id"] for item in default.json()["items"]] == [first, second], "oldest line first"

    updated = await cart_app.client.put(f"{API}/items/{first}", json={"quantity": 7}, headers=auth)
    assert updated.status_code == 200, updated.text
    assert lines(updated) == {first: 7, second: 1}
    assert updated.json()["item_count"] == 8

    removed = await cart_app.client.delete(f"{API}/items/{second}", headers=auth)
    assert removed.status_code == 200 and lines(removed) == {first: 7}
    gone = await cart_app.client.delete(f"{API}/items/{second}", headers=auth)
    assert gone.status_code == 404 and gone.json()["errors"][0]["field"] == "product_id"

    cleared = await cart_app.client.delete(API, headers=auth)
    assert cleared.status_code == 204
    assert (await cart_app.client.get(API, headers=auth)).json()["items"] == []
    owner = (await cart_app.client.get(API, headers=auth)).json()["id"]
    assert owner not in await cart_app.snapshot()


async def test_put_adds_a_missing_line(cart_app: CartApp, user_token: str) -> None:
    (product,) = await cart_app.product_ids(1)
    response = await cart_app.client.put(f"{API}/items/{product}", json={"quantity": 4}, headers=bearer(user_token))
    assert response.status_code == 200, response.text
    assert lines(response) == {product: 4}


async def test_quantity_bound_per_line(cart_app: CartApp, user_token: str) -> None:
    (product,) = await cart_app.product_ids(1)
    auth = bearer(user_token)
    assert (
        await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 98}, headers=auth)
    ).status_code == 200
    before = await cart_app.snapshot()
    over = await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 2}, headers=auth)
    assert over.status_code == 422, over.text
    assert over.headers["content-type"] == "application/problem+json"
    assert over.json()["errors"][0]["field"] == "quantity"
    assert "98" in over.json()["detail"]
    assert await cart_app.snapshot() == before
    exact = await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 1}, headers=auth)
    assert lines(exact) == {product: 99}
    put_over = await cart_app.client.put(f"{API}/items/{product}", json={"quantity": 100}, headers=auth)
    assert put_over.status_code == 422 and put_over.json()["errors"][0]["field"] == "quantity"
    assert await cart_app.snapshot() != before and lines(await cart_app.client.get(API, headers=auth)) == {product: 99}


async def test_line_bound_per_cart(cart_app: CartApp, user_token: str, admin_token: str) -> None:
    settings = cart_app.context.settings
    auth = bearer(user_token)
    products = await cart_app.product_ids(settings.max_lines)
    while len(products) < settings.max_lines + 1:
        products.append((await cart_app.create_product(admin_token))["id"])
    owner = f"user:{(await cart_app.client.get(API, headers=auth)).json()['id'].removeprefix('user:')}"
    # fill the cart through the store: 50 HTTP adds would each price the whole cart
    redis = runtime_in(cart_app.context, CartRuntime).redis
    store = redis.get() if redis is not None else None
    limits = _limits(settings, owner)
    if store is not None:
        for product in products[: settings.max_lines]:
            await store.add(owner, product, 1, limits)
    else:
        from agora.services.cart.repository import SqlCartStore

        async with cart_app.context.sessions() as session:
            sql = SqlCartStore(session)
            for product in products[: settings.max_lines]:
                await sql.add(owner, product, 1, limits)
            await session.commit()
    before = await cart_app.snapshot()
    assert len(before[owner]) == settings.max_lines
    extra = products[settings.max_lines]
    refused = await cart_app.client.post(f"{API}/items", json={"product_id": extra}, headers=auth)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "product_id"
    assert await cart_app.snapshot() == before
    # a line already in the cart still takes more
    more = await cart_app.client.post(f"{API}/items", json={"product_id": products[0]}, headers=auth)
    assert more.status_code == 200 and len(more.json()["items"]) == settings.max_lines
    await cart_app.client.delete(API, headers=auth)


def _limits(settings: Any, owner: str) -> Any:
    from agora.services.cart.store import Limits

    return Limits(settings.max_quantity, settings.max_lines, settings.user_ttl_seconds)


async def test_priced_from_the_catalog_at_read_time(cart_app: CartApp, user_token: str, admin_token: str) -> None:
    product = await cart_app.create_product(admin_token, price=1250)
    (other,) = await cart_app.product_ids(1)
    other_price = (await cart_app.client.get(f"{CATALOG}/products/{other}")).json()["price"]["amount"]
    auth = bearer(user_token)
    await cart_app.client.post(f"{API}/items", json={"product_id": product["id"], "quantity": 3}, headers=auth)
    await cart_app.client.post(f"{API}/items", json={"product_id": other, "quantity": 1}, headers=auth)

    body = (await cart_app.client.get(API, headers=auth)).json()
    line = next(item for item in body["items"] if item["product_id"] == product["id"])
    assert line == {
        "product_id": product["id"],
        "sku": product["sku"],
        "name": product["name"],
        "quantity": 3,
        "unit_price": {"amount": 1250, "currency": "USD"},
        "line_total": {"amount": 3750, "currency": "USD"},
        "available": True,
    }
    assert body["subtotal"] == {"amount": 3750 + other_price, "currency": "USD"}
    assert body["pricing"] == "ok" and body["item_count"] == 4

    patched = await cart_app.client.patch(
        f"{CATALOG}/products/{product['id']}",
        json={"price": {"amount": 999, "currency": "USD"}},
        headers=bearer(admin_token),
    )
    assert patched.status_code == 200, patched.text
    repriced = (await cart_app.client.get(API, headers=auth)).json()
    line = next(item for item in repriced["items"] if item["product_id"] == product["id"])
    assert line["unit_price"] == {"amount": 999, "currency": "USD"}
    assert line["line_total"] == {"amount": 2997, "currency": "USD"}
    assert repriced["subtotal"] == {"amount": 2997 + other_price, "currency": "USD"}


async def test_a_withdrawn_product_stays_unpriced_and_cannot_be_added(
    cart_app: CartApp, user_token: str, admin_token: str
) -> None:
    product = await cart_app.create_product(admin_token, price=500)
    (other,) = await cart_app.product_ids(1)
    other_price = (await cart_app.client.get(f"{CATALOG}/products/{other}")).json()["price"]["amount"]
    auth = bearer(user_token)
    await cart_app.client.post(f"{API}/items", json={"product_id": product["id"], "quantity": 2}, headers=auth)
    await cart_app.client.post(f"{API}/items", json={"product_id": other}, headers=auth)
    withdrawn = await cart_app.client.delete(f"{CATALOG}/products/{product['id']}", headers=bearer(admin_token))
    assert withdrawn.status_code == 204

    body = (await cart_app.client.get(API, headers=auth)).json()
    line = next(item for item in body["items"] if item["product_id"] == product["id"])
    assert line["available"] is False and line["unit_price"] is None and line["line_total"] is None
    assert line["quantity"] == 2
    assert body["subtotal"] == {"amount": other_price, "currency": "USD"}, "unavailable lines are not charged"
    assert body["item_count"] == 3

    before = await cart_app.snapshot()
    again = await cart_app.client.post(f"{API}/items", json={"product_id": product["id"]}, headers=auth)
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "product_id"
    put = await cart_app.client.put(f"{API}/items/{product['id']}", json={"quantity": 1}, headers=auth)
    assert put.status_code == 404 and put.json()["errors"][0]["field"] == "product_id"
    unknown = str(uuid.uuid4())
    never = await cart_app.client.post(f"{API}/items", json={"product_id": unknown}, headers=auth)
    assert never.status_code == 422 and never.json()["errors"][0]["field"] == "product_id"
    assert await cart_app.snapshot() == before
    # a withdrawn line can still be removed
    assert (await cart_app.client.delete(f"{API}/items/{product['id']}", headers=auth)).status_code == 200


async def test_anonymous_cart_by_cookie_then_merged_at_login(cart_app: CartApp, user_token: str) -> None:
    first, second = await cart_app.product_ids(2)
    async with _browser(cart_app) as browser:
        created = await browser.post(f"{API}/items", json={"product_id": first, "quantity": 2})
        assert created.status_code == 200, created.text
        cart_id = created.json()["id"]
        assert str(uuid.UUID(cart_id)) == cart_id
        cookie = created.headers["set-cookie"]
        assert f"{CART_COOKIE}={cart_id}" in cookie
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "Path=/" in cookie
        # the browser sends the cookie back: the same cart
        more = await browser.post(f"{API}/items", json={"product_id": second, "quantity": 1})
        assert more.json()["id"] == cart_id and lines(more) == {first: 2, second: 1}
        assert (await browser.get(API)).json()["id"] == cart_id

        # the user already has some of the first product
        auth = bearer(user_token)
        await cart_app.client.post(f"{API}/items", json={"product_id": first, "quantity": 97}, headers=auth)

        # the first signed-in request that carries the cookie merges and drops the anonymous cart
        merged = await browser.get(API, headers=auth)
        assert merged.status_code == 200, merged.text
        assert lines(merged) == {first: 99, second: 1}, "quantities add up, capped at the per-line bound"
        assert merged.json()["id"].startswith("user:")
        assert f'{CART_COOKIE}="";' in merged.headers["set-cookie"] or "Max-Age=0" in merged.headers["set-cookie"]
        assert f"anon:{cart_id}" not in await cart_app.snapshot()
        assert CART_COOKIE not in browser.cookies

    # the anonymous cart is gone for whoever still holds its id
    stale = await cart_app.client.get(API, headers={CART_ID_HEADER: cart_id})
    assert stale.json()["items"] == []


async def test_anonymous_cart_by_header_and_explicit_merge(cart_app: CartApp, user_token: str) -> None:
    (product,) = await cart_app.product_ids(1)
    created = await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 3})
    cart_id = created.json()["id"]
    same = await cart_app.client.post(
        f"{API}/items", json={"product_id": product, "quantity": 1}, headers={CART_ID_HEADER: cart_id}
    )
    assert same.json()["id"] == cart_id and lines(same) == {product: 4}
    assert "set-cookie" not in same.headers, "an API client naming its cart by header gets no cookie"

    anonymous_merge = await cart_app.client.post(f"{API}/merge", json={"cart_id": cart_id})
    assert anonymous_merge.status_code == 401
    assert f"anon:{cart_id}" in await cart_app.snapshot()

    merged = await cart_app.client.post(f"{API}/merge", json={"cart_id": cart_id}, headers=bearer(user_token))
    assert merged.status_code == 200, merged.text
    assert lines(merged) == {product: 4}
    assert f"anon:{cart_id}" not in await cart_app.snapshot()
    # merging again (or an unknown cart) changes nothing
    again = await cart_app.client.post(f"{API}/merge", json={"cart_id": cart_id}, headers=bearer(user_token))
    assert again.status_code == 200 and lines(again) == {product: 4}


async def test_each_user_sees_only_their_own_cart(cart_app: CartApp, token_factory: Any) -> None:
    first, second = await cart_app.product_ids(2)
    alice = bearer(token_factory(subject=f"alice-{uuid.uuid4().hex[:8]}"))
    bob = bearer(token_factory(subject=f"bob-{uuid.uuid4().hex[:8]}"))
    await cart_app.client.post(f"{API}/items", json={"product_id": first, "quantity": 1}, headers=alice)
    await cart_app.client.post(f"{API}/items", json={"product_id": second, "quantity": 2}, headers=bob)
    assert lines(await cart_app.client.get(API, headers=alice)) == {first: 1}
    assert lines(await cart_app.client.get(API, headers=bob)) == {second: 2}
    # Bob can neither remove Alice's line nor clear her cart: he only ever reaches his own
    assert (await cart_app.client.delete(f"{API}/items/{first}", headers=bob)).status_code == 404
    assert (await cart_app.client.delete(API, headers=bob)).status_code == 204
    assert lines(await cart_app.client.get(API, headers=alice)) == {first: 1}
    # nor can an anonymous visitor who guesses an id read it
    assert (await cart_app.client.get(API, headers={CART_ID_HEADER: str(uuid.uuid4())})).json()["items"] == []


async def test_internal_routes_need_the_service_role(
    cart_app: CartApp, token_factory: Any, service_token: str, admin_token: str
) -> None:
    (product,) = await cart_app.product_ids(1)
    user_id = f"buyer-{uuid.uuid4().hex[:8]}"
    user = bearer(token_factory(subject=user_id))
    await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 2}, headers=user)
    url = f"{API}/users/{user_id}"

    assert (await cart_app.client.get(url)).status_code == 401
    for token in (token_factory(subject=user_id), admin_token):
        refused = await cart_app.client.get(url, headers=bearer(token))
        assert refused.status_code == 403, refused.text
        assert (await cart_app.client.delete(url, headers=bearer(token))).status_code == 403
    assert lines(await cart_app.client.get(API, headers=user)) == {product: 2}

    read = await cart_app.client.get(url, headers=bearer(service_token))
    assert read.status_code == 200, read.text
    assert read.json()["id"] == f"user:{user_id}" and lines(read) == {product: 2}
    assert read.json()["items"][0]["unit_price"]["currency"] == "USD"

    cleared = await cart_app.client.delete(url, headers=bearer(service_token))
    assert cleared.status_code == 204
    assert (await cart_app.client.get(API, headers=user)).json()["items"] == []
    bad = await cart_app.client.get(f"{API}/users/a%20b", headers=bearer(service_token))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "path.user_id"


async def test_operations_are_counted(cart_app: CartApp, user_token: str) -> None:
    (product,) = await cart_app.product_ids(1)

    async def adds() -> float:
        body = (await cart_app.client.get("/metrics")).text
        line = next(
            (x for x in body.splitlines() if x.startswith('agora_cart_operations_total{operation="add"}')), "x 0"
        )
        return float(line.split()[-1])

    before = await adds()
    await cart_app.client.post(f"{API}/items", json={"product_id": product}, headers=bearer(user_token))
    assert await adds() == before + 1


def _browser(cart_app: CartApp) -> httpx.AsyncClient:
    """A second client with its own cookie jar over the same app, like a browser."""
    transport = httpx.ASGITransport(app=cart_app.embedded, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://agora.test")


async def test_openapi_documents_the_routes(cart_app: CartApp) -> None:
    response = await cart_app.client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/cart", "/api/cart/items", "/api/cart/items/{product_id}", "/api/cart/merge"} <= set(paths)
    assert {"get", "delete"} <= set(paths["/api/cart/users/{user_id}"])
    assert "Cart" in response.json()["components"]["schemas"]
