"""Checkout over HTTP through every real service: the paid path, a declined card, a provider error.

Each case checks what the customer sees (status, problem, order history) and what every service
kept (stock, cart, charges, events), on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from typing import Any

from agora.contracts.orders import OrderPaid, OrderPlaced
from tests.support.stack import ADDRESS, DECLINED_CARD, PROVIDER_ERROR_CARD, Stack, User, eventually


async def charges(stack: Stack, admin: User, order_id: str) -> list[dict[str, Any]]:
    response = await stack.client.get("/api/payments/charges", params={"order_id": order_id}, headers=admin.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def fill_cart(stack: Stack, user: User, products: list[dict[str, Any]], quantities: list[int]) -> None:
    for product, quantity in zip(products, quantities, strict=True):
        added = await stack.add_to_cart(user, product["id"], quantity)
        assert added.status_code in (200, 201), added.text


async def test_a_customer_checks_out_three_products_in_euros(stack: Stack) -> None:
    user, admin = await stack.register(), await stack.admin()
    products = await stack.products(3)
    before = {p["sku"]: await stack.stock(p["sku"]) for p in products}
    await fill_cart(stack, user, products, [1, 2, 1])

    response = await stack.checkout(user, currency="EUR")

    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["location"] == f"/api/orders/{order['id']}"
    assert (order["status"], order["currency"]) == ("paid", "EUR")
    assert [(line["product_id"], line["quantity"]) for line in order["items"]] == [
        (products[0]["id"], 1),
        (products[1]["id"], 2),
        (products[2]["id"], 1),
    ]
    assert all(line["unit_price"]["currency"] == "EUR" for line in order["items"])
    assert order["subtotal"]["amount"] == sum(line["line_total"]["amount"] for line in order["items"])
    assert order["total"]["amount"] == order["subtotal"]["amount"] + order["shipping"]["amount"]
    assert order["payment"]["card"] == {"brand": "visa", "last4": "4242"}
    assert order["failure"] is None

    history = await stack.client.get("/api/orders", headers=user.headers)
    assert history.status_code == 200
    assert [o["id"] for o in history.json()["items"]] == [order["id"]]
    for product, quantity in zip(products, [1, 2, 1], strict=True):
        after = await stack.stock(product["sku"])
        assert after["on_hand"] == before[product["sku"]]["on_hand"] - quantity
        assert after["available"] == before[product["sku"]]["available"] - quantity
    cart = await stack.client.get("/api/cart", headers=user.headers)
    assert cart.json()["items"] == []
    captured = [c for c in await charges(stack, admin, order["id"]) if c["status"] == "captured"]
    assert [c["amount"] for c in captured] == [order["total"]]
    events = await stack.events("orders", key=order["id"])
    assert [e["type"] for e in events] == ["orders.order.placed", "orders.order.paid"]
    placed, paid = OrderPlaced.model_validate(events[0]["data"]), OrderPaid.model_validate(events[1]["data"])
    assert (paid.user_id, paid.total.amount, len(paid.items)) == (user.id, order["total"]["amount"], 3)
    assert (placed.shipping_address.city, paid.payment_id) == (ADDRESS["city"], order["payment"]["id"])
    metrics = (await stack.client.get("/metrics")).text
    assert 'agora_orders_checkouts_total{outcome="paid"}' in metrics
    assert 'agora_orders_revenue_minor_total{currency="EUR"}' in metrics
    assert "agora_orders_checkout_duration_seconds_bucket{" in metrics


async def test_a_declined_card_fails_the_order_and_changes_no_stock(stack: Stack) -> None:
    user, admin = await stack.register(), await stack.admin()
    product = (await stack.products(1))[0]
    before = await stack.stock(product["sku"])
    await fill_cart(stack, user, [product], [2])

    response = await stack.checkout(user, card=DECLINED_CARD)

    assert response.status_code == 402, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["reason"]) == ("card_declined", "Your card was declined.")
    order = (await stack.client.get(f"/api/orders/{problem['order_id']}", headers=user.headers)).json()
    assert order["status"] == "failed"
    assert order["failure"] == {"code": "card_declined", "reason": "Your card was declined."}
    assert await stack.stock(product["sku"]) == before
    assert [c["status"] for c in await charges(stack, admin, order["id"])] == ["declined"]
    cart = await stack.client.get("/api/cart", headers=user.headers)
    assert [line["quantity"] for line in cart.json()["items"]] == [2]  # kept for another try
    assert [e["type"] for e in await stack.events("orders", key=order["id"])] == ["orders.order.failed"]


async def test_a_provider_error_fails_the_order_and_releases_the_stock(stack: Stack) -> None:
    user, admin = await stack.register(), await stack.admin()
    product = (await stack.products(2))[1]
    before = await stack.stock(product["sku"])
    await fill_cart(stack, user, [product], [1])

    response = await stack.checkout(user, card=PROVIDER_ERROR_CARD)

    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["code"] == "payment_provider_error" and "nothing was charged" in problem["reason"]
    order = (await stack.client.get(f"/api/orders/{problem['order_id']}", headers=user.headers)).json()
    assert (order["status"], order["failure"]["code"]) == ("failed", "payment_provider_error")
    assert await stack.stock(product["sku"]) == before
    assert not [c for c in await charges(stack, admin, order["id"]) if c["status"] == "captured"]


async def test_cancel_refunds_and_restocks_and_shipping_follows_the_status_machine(stack: Stack) -> None:
    user, admin = await stack.register(), await stack.admin()
    first, second = await stack.products(2)
    await fill_cart(stack, user, [first], [1])
    kept = (await stack.checkout(user)).json()
    await fill_cart(stack, user, [second], [1])
    cancelled_id = (await stack.checkout(user)).json()["id"]
    before = await stack.stock(second["sku"])

    cancelled = await stack.client.post(f"/api/orders/{cancelled_id}/cancel", headers=user.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (await stack.stock(second["sku"]))["on_hand"] == before["on_hand"] + 1
    assert [c["status"] for c in await charges(stack, admin, cancelled_id)] == ["refunded"]
    again = await stack.client.post(f"/api/orders/{cancelled_id}/cancel", headers=user.headers)
    assert again.status_code == 409

    refused = await stack.client.post(f"/api/orders/{kept['id']}/ship", headers=user.headers)
    assert refused.status_code == 403
    shipped = await stack.client.post(f"/api/orders/{kept['id']}/ship", headers=admin.headers)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped" and shipped.json()["tracking_id"]
    too_late = await stack.client.post(f"/api/orders/{kept['id']}/cancel", headers=user.headers)
    assert too_late.status_code == 409
    delivered = await stack.client.post(f"/api/orders/{kept['id']}/deliver", headers=admin.headers)
    assert delivered.json()["status"] == "delivered"
    types = [e["type"] for e in await stack.events("orders", key=kept["id"])]
    assert types[-2:] == ["orders.order.shipped", "orders.order.delivered"]


async def test_the_openapi_document_lists_every_orders_route(stack: Stack) -> None:
    document = (await stack.client.get("/api/orders/openapi.json")).json()
    assert set(document["paths"]) == {
        "/api/orders/checkout",
        "/api/orders",
        "/api/orders/{order_id}",
        "/api/orders/{order_id}/cancel",
        "/api/orders/{order_id}/ship",
        "/api/orders/{order_id}/deliver",
    }
    checkout = document["paths"]["/api/orders/checkout"]["post"]
    assert {"201", "402", "409", "422", "503"} <= set(checkout["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in checkout["parameters"])


async def test_a_delivery_confirmed_at_shipping_delivers_the_order(stack: Stack) -> None:
    user, admin = await stack.register(), await stack.admin()
    product = (await stack.products(3))[2]
    await fill_cart(stack, user, [product], [1])
    order_id = (await stack.checkout(user)).json()["id"]
    assert (await stack.client.post(f"/api/orders/{order_id}/ship", headers=admin.headers)).status_code == 200
    shipments = await stack.client.get("/api/shipping/shipments", params={"order_id": order_id}, headers=admin.headers)
    shipment = shipments.json()["items"][0]

    delivered = await stack.client.post(f"/api/shipping/shipments/{shipment['id']}/deliver", headers=admin.headers)
    assert delivered.status_code == 200, delivered.text

    async def order_delivered() -> bool:
        order = await stack.client.get(f"/api/orders/{order_id}", headers=user.headers)
        return order.json()["status"] == "delivered"

    await eventually(order_delivered, what="the order follows shipping.shipment.delivered")
    types = [e["type"] for e in await stack.events("orders", key=order_id)]
    assert types.count("orders.order.delivered") == 1
    again = await stack.client.post(f"/api/orders/{order_id}/deliver", headers=admin.headers)
    assert again.status_code == 409  # delivered once; the status machine refuses a second time
