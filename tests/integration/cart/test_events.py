"""``cart.item.added``: every accepted addition writes one event to the cart's outbox, in the
request's transaction; a refused one writes none (on every store)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import select

from agora.contracts.cart import CART_ID_HEADER, CART_ITEM_ADDED
from agora.platform.messaging import outbox

from .conftest import API, CartApp, bearer


async def added_events(cart_app: CartApp, product_id: str) -> list[dict[str, Any]]:
    async with cart_app.context.sessions() as session:
        statement = select(outbox.c.payload).where(outbox.c.type == CART_ITEM_ADDED).order_by(outbox.c.id)
        payloads = [orjson.loads(row.payload) for row in (await session.execute(statement)).all()]
    return [payload["data"] for payload in payloads if payload["data"]["product_id"] == product_id]


async def test_an_addition_publishes_cart_item_added(cart_app: CartApp, token_factory: Any) -> None:
    product = (await cart_app.product_ids(7))[6]
    before = await added_events(cart_app, product)
    user_id = f"user-{uuid.uuid4().hex[:12]}"
    auth = bearer(token_factory(roles=["customer"], subject=user_id))

    first = await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 2}, headers=auth)
    assert first.status_code == 200, first.text
    again = await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 1}, headers=auth)
    assert again.status_code == 200, again.text

    events = (await added_events(cart_app, product))[len(before) :]
    assert [(e["quantity"], e["line_quantity"], e["cart_id"]) for e in events] == [(2, 2, None), (1, 3, None)]
    assert {e["user_id"] for e in events} == {user_id}


async def test_an_anonymous_addition_names_the_cart(cart_app: CartApp) -> None:
    product = (await cart_app.product_ids(8))[7]
    before = await added_events(cart_app, product)
    response = await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 1})
    assert response.status_code == 200, response.text
    cart_id = response.json()["id"]
    cart_app.client.cookies.clear()

    again = await cart_app.client.post(
        f"{API}/items", json={"product_id": product, "quantity": 4}, headers={CART_ID_HEADER: cart_id}
    )
    assert again.status_code == 200, again.text
    cart_app.client.cookies.clear()
    events = (await added_events(cart_app, product))[len(before) :]
    assert [(e["quantity"], e["line_quantity"], e["cart_id"], e["user_id"]) for e in events] == [
        (1, 1, cart_id, None),
        (4, 5, cart_id, None),
    ]


async def test_a_refused_addition_publishes_nothing(cart_app: CartApp, user_token: str) -> None:
    product = (await cart_app.product_ids(9))[8]
    before = await added_events(cart_app, product)
    too_many = await cart_app.client.post(
        f"{API}/items", json={"product_id": product, "quantity": 10_000}, headers=bearer(user_token)
    )
    assert too_many.status_code == 422, too_many.text
    assert await added_events(cart_app, product) == before
