"""Bad input at checkout (and on the cart the checkout reads) is a 4xx naming the field, and
changes nothing: no order, no charge, the same stock; other users' orders stay invisible."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from agora.services.orders.models import Order
from agora.services.payments.models import Charge
from tests.support.stack import ADDRESS, GOOD_CARD, Stack, User


@dataclass(frozen=True)
class Snapshot:
    orders: int
    charges: int
    stock: dict[str, int]


async def snapshot(stack: Stack, sku: str) -> Snapshot:
    return Snapshot(
        orders=await stack.count("orders", Order),
        charges=await stack.count("payments", Charge),
        stock=await stack.stock(sku),
    )


def fields(response: Any) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [error["field"] for error in response.json().get("errors", [])]


@pytest.fixture(scope="module")
async def shopper(stack: Stack) -> tuple[User, dict[str, Any]]:
    user = await stack.register()
    product = (await stack.products(1))[0]
    added = await stack.add_to_cart(user, product["id"], 1)
    assert added.status_code in (200, 201), added.text
    return user, product


def body(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"currency": "EUR", "shipping_address": dict(ADDRESS), "card": dict(GOOD_CARD)}
    for path, value in changes.items():
        section, _, name = path.partition("__")
        if name:
            document[section][name] = value
        else:
            document[section] = value
    return document


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"currency": "XXX"}, 422, "body.currency"),
        ({"currency": 978}, 422, "body.currency"),
        ({"card__number": "4242 4242 4242 4241"}, 422, "body.card.number"),
        ({"card__number": "not a card"}, 422, "body.card.number"),
        ({"card__exp_month": 0}, 422, "body.card.exp_month"),
        ({"card__exp_year": 2001}, 422, "body.card.exp_year"),
        ({"card__cvc": "1"}, 422, "body.card.cvc"),
        ({"card": None}, 422, "body.card"),
        ({"shipping_address__country": "germany"}, 422, "body.shipping_address.country"),
        ({"shipping_address__name": ""}, 422, "body.shipping_address.name"),
        ({"shipping_address__city": "x" * 101}, 422, "body.shipping_address.city"),
        ({"coupon": "FREE"}, 422, "body.coupon"),
    ],
)
async def test_a_malformed_checkout_is_refused_naming_the_field(
    stack: Stack, shopper: tuple[User, dict[str, Any]], changes: dict[str, Any], status: int, field: str
) -> None:
    user, product = shopper
    before = await snapshot(stack, product["sku"])
    response = await stack.checkout(user, body=body(**changes))
    assert response.status_code == status, response.text
    assert field in fields(response)
    assert await snapshot(stack, product["sku"]) == before


async def test_a_checkout_without_an_idempotency_key_is_refused(stack: Stack, shopper: tuple[User, Any]) -> None:
    user, product = shopper
    before = await snapshot(stack, product["sku"])
    response = await stack.client.post("/api/orders/checkout", json=body(), headers=user.headers)
    assert response.status_code == 400
    assert fields(response) == ["Idempotency-Key"]
    assert await snapshot(stack, product["sku"]) == before


async def test_anonymous_and_non_json_checkouts_are_refused(stack: Stack, shopper: tuple[User, Any]) -> None:
    user, product = shopper
    before = await snapshot(stack, product["sku"])
    anonymous = await stack.client.post("/api/orders/checkout", json=body(), headers={"Idempotency-Key": "k-1"})
    assert anonymous.status_code == 401
    text = await stack.client.post(
        "/api/orders/checkout",
        content=b"currency=EUR",
        headers={**user.headers, "Idempotency-Key": "k-2", "Content-Type": "text/plain"},
    )
    assert text.status_code in (415, 422), text.text
    assert await snapshot(stack, product["sku"]) == before


async def test_an_empty_cart_is_refused_naming_the_cart(stack: Stack) -> None:
    user = await stack.register()
    product = (await stack.products(1))[0]
    before = await snapshot(stack, product["sku"])
    response = await stack.checkout(user)
    assert response.status_code == 422, response.text
    assert fields(response) == ["cart"]
    assert await snapshot(stack, product["sku"]) == before


@pytest.mark.parametrize(
    ("quantity", "product_id", "status"),
    [(0, None, 422), (-1, None, 422), (10**9, None, 422), (1, str(uuid.uuid4()), 422)],
)
async def test_the_cart_refuses_bad_lines_so_nothing_reaches_checkout(
    stack: Stack, quantity: int, product_id: str | None, status: int
) -> None:
    user = await stack.register()
    product = (await stack.products(1))[0]
    before = await snapshot(stack, product["sku"])
    added = await stack.add_to_cart(user, product_id or product["id"], quantity)
    assert added.status_code == status, added.text
    assert fields(added) == ["body.quantity" if product_id is None else "product_id"]
    response = await stack.checkout(user)
    assert (response.status_code, fields(response)) == (422, ["cart"])
    assert await snapshot(stack, product["sku"]) == before


async def test_another_users_order_is_not_found(stack: Stack, shopper: tuple[User, Any]) -> None:
    owner, _ = shopper
    paid = await stack.checkout(owner)
    assert paid.status_code == 201, paid.text
    order_id = paid.json()["id"]
    stranger = await stack.register()

    for method, path in (("GET", ""), ("POST", "/cancel")):
        response = await stack.client.request(method, f"/api/orders/{order_id}{path}", headers=stranger.headers)
        assert response.status_code == 404, (method, response.text)
    assert (await stack.client.get("/api/orders", headers=stranger.headers)).json()["items"] == []
    mine = await stack.client.get(f"/api/orders/{order_id}", headers=owner.headers)
    assert mine.json()["status"] == "paid"  # the stranger's cancel changed nothing
    for bad in ("not-a-uuid", "x" * 37):
        assert (await stack.client.get(f"/api/orders/{bad}", headers=owner.headers)).status_code in (404, 422)
