"""What the services actually send validates against the contract models their routes document.

Most routes render their JSON themselves (pre-encoded bytes, hand-built dicts), so the OpenAPI
check (test_openapi_matches_contracts.py) proves the promise, not the bytes. Here the checkout
stack (identity, catalog, inventory, cart, currency, shipping, payments, orders, embedded, real
SQLite, seeded) is driven once through every contract route of those services; every 2xx body is
recorded by route and validated with the contract model's ``model_validate_json`` (strictly: a
missing field, a wrong type or a renamed field fails). A contract route the journey does not
reach (no 2xx at all) fails too, so a new route has to be driven or listed in :data:`NOT_DRIVEN` with a reason.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from agora.platform.settings import DEVELOPMENT_SECRET
from tests.contracts.contract_routes import ContractRoute, all_contract_routes
from tests.support.stack import ADDRESS, GOOD_CARD, SERVICES, Stack, running_stack

ROUTES = [route for route in all_contract_routes() if route.service in SERVICES]
#: Contract routes of the stack's services this journey does not reach, and why.
NOT_DRIVEN: dict[str, str] = {}

#: "service:METHOD:path" -> the (status, body) of each 2xx answer the operation gave.
Bodies = dict[str, list[tuple[str, bytes]]]


def _operation(route: ContractRoute) -> str:
    return route.id.rsplit(":", 1)[0]


def _pattern(route: ContractRoute) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route.path) + "$")


class Recorder:
    """An httpx response hook keeping each 2xx JSON body under the contract route it answers."""

    def __init__(self) -> None:
        self.bodies: Bodies = defaultdict(list)
        self._routes = [(route, _pattern(route)) for route in ROUTES]

    async def __call__(self, response: httpx.Response) -> None:
        request = response.request
        if not 200 <= response.status_code < 300:
            return
        for route, pattern in self._routes:
            if route.method == request.method and pattern.match(request.url.path):
                self.bodies[_operation(route)].append((str(response.status_code), await response.aread()))
                return


async def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200,)), (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    return body


async def _service_headers(client: httpx.AsyncClient, service: str) -> dict[str, str]:
    token = await _ok(
        await client.post("/api/identity/service-tokens", json={"service": service, "secret": DEVELOPMENT_SECRET})
    )
    return {"Authorization": f"Bearer {token['access_token']}"}


async def _journey(stack: Stack) -> None:
    client = stack.client
    admin, shopper = await stack.admin(), await stack.register()
    orders_service = await _service_headers(client, "orders")
    notifications_service = await _service_headers(client, "notifications")
    await _ok(await client.get(f"/api/identity/internal/users/{shopper.id}", headers=notifications_service))

    # catalog and inventory
    product = (await stack.products(1))[0]
    await _ok(await client.get(f"/api/catalog/products/{product['id']}"))
    await _ok(await client.get(f"/api/catalog/products/by-sku/{product['sku']}"))
    sku = f"CONTRACT-{uuid.uuid4().hex[:8].upper()}"
    created = await _ok(
        await client.post(
            "/api/catalog/products",
            json={
                "sku": sku,
                "name": "Contract probe",
                "price": {"amount": 1234, "currency": "USD"},
                "category": product["category"]["slug"],
            },
            headers=admin.headers,
        ),
        201,
    )
    await _ok(
        await client.patch(f"/api/catalog/products/{created['id']}", json={"name": "Renamed"}, headers=admin.headers)
    )
    await _ok(await client.put(f"/api/inventory/stock/{sku}", json={"on_hand": 5}, headers=admin.headers), 200, 201)
    await _ok(await client.get(f"/api/inventory/stock/{sku}"))
    for ending in ("commit", "release"):
        reservation = str(uuid.uuid4())
        body = {"reservation_id": reservation, "items": [{"sku": sku, "quantity": 1}]}
        await _ok(await client.post("/api/inventory/reservations", json=body, headers=orders_service), 200, 201)
        await _ok(await client.get(f"/api/inventory/reservations/{reservation}", headers=orders_service))
        await _ok(await client.post(f"/api/inventory/reservations/{reservation}/{ending}", headers=orders_service))

    # currency and shipping
    currencies = await _ok(await client.get("/api/currency/currencies"))
    gbp = next(row for row in currencies["items"] if row["code"] == "GBP")
    rate = {"rate_per_usd": gbp["rate_per_usd"]}  # set to what it is: later prices do not move
    await _ok(await client.put("/api/currency/rates/GBP", json=rate, headers=admin.headers))
    await _ok(await client.get("/api/currency/convert", params={"amount": 1000, "from": "USD", "to": "EUR"}))
    items = [{"sku": product["sku"], "quantity": 2}]
    await _ok(await client.post("/api/shipping/quote", json={"address": ADDRESS, "items": items}))
    shipment = await _ok(
        await client.post(
            "/api/shipping/shipments",
            json={"order_id": f"contract-{uuid.uuid4().hex[:8]}", "address": ADDRESS, "items": items},
            headers=orders_service,
        ),
        200,
        201,
    )
    await _ok(await client.get(f"/api/shipping/shipments/{shipment['id']}", headers=orders_service))
    await _ok(await client.post(f"/api/shipping/shipments/{shipment['id']}/deliver", headers=admin.headers))

    # payments
    charge = await _ok(
        await client.post(
            "/api/payments/charges",
            json={
                "order_id": f"contract-{uuid.uuid4().hex[:8]}",
                "user_id": shopper.id,
                "amount": {"amount": 500, "currency": "USD"},
                "card": GOOD_CARD,
            },
            headers={**orders_service, "Idempotency-Key": str(uuid.uuid4())},
        ),
        201,
    )
    await _ok(await client.get(f"/api/payments/charges/{charge['id']}", headers=orders_service))
    await _ok(await client.get("/api/payments/charges", headers=admin.headers))
    await _ok(await client.post(f"/api/payments/charges/{charge['id']}/refund", headers=orders_service))

    # cart: an anonymous cart merged at sign-in, edited, read by a service
    anonymous = await _ok(await client.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}))
    await _ok(await client.post("/api/cart/merge", json={"cart_id": anonymous["id"]}, headers=shopper.headers))
    await _ok(await stack.add_to_cart(shopper, product["id"], 2))
    await _ok(await client.put(f"/api/cart/items/{product['id']}", json={"quantity": 3}, headers=shopper.headers))
    await _ok(await client.get("/api/cart", headers=shopper.headers))
    await _ok(await client.get(f"/api/cart/users/{shopper.id}", headers=orders_service))
    await _ok(await client.delete(f"/api/cart/items/{product['id']}", headers=shopper.headers))

    # orders: one shipped and delivered, one cancelled
    for ending in (("ship", "deliver"), ("cancel",)):
        await _ok(await stack.add_to_cart(shopper, product["id"], 1))
        order = await _ok(await stack.checkout(shopper), 201)
        await _ok(await client.get(f"/api/orders/{order['id']}", headers=shopper.headers))
        for step in ending:
            actor = shopper if step == "cancel" else admin
            await _ok(await client.post(f"/api/orders/{order['id']}/{step}", headers=actor.headers))


@pytest.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bodies]:
    recorder = Recorder()
    tmp: Path = tmp_path_factory.mktemp("contracts-served")
    async with running_stack("sqlite", tmp, stocked=1) as stack:
        stack.client.event_hooks = {"request": [], "response": [recorder]}
        await _journey(stack)
    yield recorder.bodies


@pytest.mark.parametrize("route", ROUTES, ids=[route.id for route in ROUTES])
async def test_the_served_body_validates_against_the_contract(route: ContractRoute, served: Bodies) -> None:
    if route.id in NOT_DRIVEN:
        pytest.skip(NOT_DRIVEN[route.id])
    answers = served.get(_operation(route))
    # an operation documenting two statuses (200 on replay, 201 on creation) needs one of them served
    assert answers, f"{route.id}: the journey never got a 2xx here (drive it or list it in NOT_DRIVEN)"
    for body in (body for status, body in answers if status == route.status):
        try:
            route.contract.model_validate_json(body, strict=True)
        except ValidationError as error:
            pytest.fail(f"{route.id}: {body[:300]!r}\n{error}")
