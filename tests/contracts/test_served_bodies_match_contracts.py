"""What the services actually send validates against the contract models their routes document.

Most routes render their JSON themselves (pre-encoded bytes, hand-built dicts), so the OpenAPI
check (test_openapi_matches_contracts.py) proves the promise, not the bytes. Here two embedded
stacks on real SQLite, seeded, are driven once through every contract route: the checkout stack
(tests/support/stack.py) and the others (ads, notifications, recommendations, support, media with
identity and catalog). Every 2xx body is recorded by route and validated with the contract model's
``model_validate_json`` (strictly: a missing field, a wrong type or a renamed field fails). A
contract route no journey reaches (no 2xx at all) fails too: drive it or list it in
:data:`NOT_DRIVEN` with the reason.
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
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.registry import service_spec
from agora.services.identity.operations import create_admin
from tests.contracts.contract_routes import ContractRoute, all_contract_routes
from tests.support.stack import ADDRESS, GOOD_CARD, PASSWORD, Stack, running_stack

#: The services of the second (non-checkout) stack; identity issues its tokens, catalog its products.
OTHERS = ("identity", "catalog", "ads", "notifications", "recommendations", "support", "media")
ROUTES = all_contract_routes()
#: Contract routes neither journey reaches, and why.
NOT_DRIVEN: dict[str, str] = {
    "notifications:POST:/api/notifications/{notification_id}/read:200": "a notification exists only after "
    "an order's events reach notifications (the checkout stack has no notifications service); "
    "tests/integration/notifications covers the answer",
}

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


async def _other_journey(client: httpx.AsyncClient, admin: dict[str, str], shopper: dict[str, str]) -> None:
    catalog_service = await _service_headers(client, "catalog")
    product = (await _ok(await client.get("/api/catalog/products", params={"limit": 1})))["items"][0]
    await _ok(await client.get("/api/ads", params={"category": product["category"]["slug"]}))
    ad = await _ok(
        await client.post("/api/ads", json={"title": "Contract probe", "url": "/catalog"}, headers=admin), 201
    )
    await _ok(await client.get(f"/api/ads/{ad['id']}", headers=admin))
    await _ok(await client.patch(f"/api/ads/{ad['id']}", json={"title": "Renamed"}, headers=admin))
    await _ok(await client.get("/api/notifications", headers=shopper))
    await _ok(await client.get(f"/api/recommendations/products/{product['id']}"))
    await _ok(await client.get("/api/recommendations/me", headers=shopper))
    await _ok(await client.post("/api/media/lookup", json={"ids": [str(uuid.uuid4())]}, headers=catalog_service))
    conversation = await _ok(
        await client.post("/api/support/conversations", json={"subject": "Contract probe"}, headers=shopper), 200, 201
    )
    path = f"/api/support/conversations/{conversation['id']}"
    await _ok(await client.post(f"{path}/messages", json={"body": "Hello"}, headers=shopper), 201)
    await _ok(await client.get(f"{path}/messages", headers=shopper))
    await _ok(await client.get(path, headers=shopper))
    await _ok(await client.get("/api/support/conversations", headers=shopper))
    await _ok(await client.post(f"{path}/read", headers=shopper))
    await _ok(await client.post(f"{path}/close", headers=shopper))


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    token = await _ok(await client.post("/api/identity/login", json={"email": email, "password": PASSWORD}))
    return {"Authorization": f"Bearer {token['access_token']}"}


@pytest.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bodies]:
    recorder = Recorder()
    tmp: Path = tmp_path_factory.mktemp("contracts-served")
    async with running_stack("sqlite", tmp, stocked=1) as stack:
        stack.client.event_hooks = {"request": [], "response": [recorder]}
        await _journey(stack)
    specs = [service_spec(name) for name in OTHERS]
    platform = platform_for_tests(tmp / "others", jwks_file=None)
    async with service_databases("sqlite", OTHERS, tmp / "others") as urls:
        settings = {spec.name: spec.settings_cls(database_url=urls[spec.name]) for spec in specs}
        async with running_services(specs, platform, settings, seed=True) as (client, embedded):
            client.event_hooks = {"request": [], "response": [recorder]}
            admin_email, shopper_email = f"admin-{uuid.uuid4().hex[:8]}@example.org", "shopper@example.org"
            await create_admin(embedded.contexts["identity"], email=admin_email, password=PASSWORD)
            body = {"email": shopper_email, "password": PASSWORD}
            await _ok(await client.post("/api/identity/register", json=body), 201)
            await _other_journey(client, await _login(client, admin_email), await _login(client, shopper_email))
    yield recorder.bodies


DRIVEN = [route for route in ROUTES if route.id not in NOT_DRIVEN]


def test_what_is_not_driven_is_a_contract_route() -> None:
    """A route left out names one that exists (not a skip: CI runs no skipped test)."""
    assert set(NOT_DRIVEN) <= {route.id for route in ROUTES}


@pytest.mark.parametrize("route", DRIVEN, ids=[route.id for route in DRIVEN])
async def test_the_served_body_validates_against_the_contract(route: ContractRoute, served: Bodies) -> None:
    answers = served.get(_operation(route))
    # an operation documenting two statuses (200 on replay, 201 on creation) needs one of them served
    assert answers, f"{route.id}: the journey never got a 2xx here (drive it or list it in NOT_DRIVEN)"
    for body in (body for status, body in answers if status == route.status):
        try:
            route.contract.model_validate_json(body, strict=True)
        except ValidationError as error:
            pytest.fail(f"{route.id}: {body[:300]!r}\n{error}")
