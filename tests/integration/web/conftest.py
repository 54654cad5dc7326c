"""The web's in-process shop: every service the storefront draws from, seeded once per session.

``shop`` runs identity, catalog, inventory, cart, currency, shipping, payments, orders,
notifications, recommendations, ads and the web in one embedded app on SQLite (what ``agora up``
runs), with stock for the seeded products. A test acts as one or more people: ``shop.person()``
is a client with its own cookie jar that asks for pages as a browser does. ``shop.down(name)``
makes one service answer 503 for the duration of a ``with`` block (and forgets the web's breaker
state afterwards), for the degradation tests.

Other web tests may import from here (``Shop``, ``csrf_of``, ``PASSWORD``); they do not edit it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from agora.platform.http.problems import problem_response
from agora.platform.runtime import EmbeddedApp
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.waiting import eventually
from agora.services import (
    ads,
    cart,
    catalog,
    currency,
    identity,
    inventory,
    notifications,
    orders,
    payments,
    recommendations,
    shipping,
    web,
)
from agora.services.identity.operations import create_admin

PASSWORD = "a long enough test passphrase"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CHECKOUT_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/35", "cvc": "123"}
CHECKOUT_ADDRESS = {"name": "Ada Lovelace", "line1": "12 St James Sq", "city": "London", "postal_code": "SW1Y 4JH"}
SPECS = (identity, catalog, inventory, cart, currency, shipping, payments, orders, notifications, recommendations, ads)


@dataclass
class Shop:
    client: httpx.AsyncClient
    embedded: EmbeddedApp
    admin_email: str
    people: list[httpx.AsyncClient] = field(default_factory=list)

    def person(self) -> httpx.AsyncClient:
        """A separate visitor: its own cookie jar, asking for pages (closed by the fixture)."""
        visitor = httpx.AsyncClient(
            transport=self.client._transport,
            base_url="http://agora.test",
            headers={"accept": "text/html,application/xhtml+xml"},
        )
        self.people.append(visitor)
        return visitor

    async def register(self, visitor: httpx.AsyncClient, *, name: str = "Ada Shopper") -> str:
        """Registers through the site's form; the visitor ends signed in. Returns the email."""
        email = f"shopper-{uuid.uuid4().hex[:10]}@example.org"
        token = await csrf_of(visitor, "/register")
        answer = await visitor.post(
            "/register",
            data={"name": name, "email": email, "password": PASSWORD, "csrf_token": token, "next": "/"},
        )
        assert answer.status_code == 303, answer.text
        return email

    async def admin_headers(self) -> dict[str, str]:
        login = await self.client.post("/api/identity/login", json={"email": self.admin_email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    async def products(self, **params: Any) -> list[dict[str, Any]]:
        answer = await self.client.get("/api/catalog/products", params={"limit": 20, **params})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def stocked_product(self) -> dict[str, Any]:
        """A seeded product with stock to spare."""
        for product in await self.products(category="books"):
            level = await self.client.get(f"/api/inventory/stock/{product['sku']}")
            if level.status_code == 200 and level.json()["available"] >= 20:
                return product
        raise AssertionError("no seeded book has stock")

    async def create_product(self, **fields: Any) -> dict[str, Any]:
        body = {
            "sku": f"TST-{uuid.uuid4().hex[:10].upper()}",
            "name": "A test lamp",
            "price": {"amount": 4999, "currency": "USD"},
            "category": "home",
            **fields,
        }
        created = await self.client.post("/api/catalog/products", json=body, headers=await self.admin_headers())
        assert created.status_code == 201, created.text
        product: dict[str, Any] = created.json()
        return product

    async def set_stock(self, sku: str, on_hand: int) -> None:
        answer = await self.client.put(
            f"/api/inventory/stock/{sku}", json={"on_hand": on_hand}, headers=await self.admin_headers()
        )
        assert answer.status_code in (200, 201), answer.text

    @contextmanager
    def down(self, service: str) -> Iterator[None]:
        """``service`` answers every request with a 503 until the block ends."""
        original = self.embedded.apps[service]

        async def unavailable(scope: Scope, receive: Receive, send: Send) -> None:
            response = problem_response(503, detail=f"{service} is down for this test.")
            await response(scope, receive, send)

        self.embedded.apps[service] = unavailable  # type: ignore[assignment]
        try:
            yield
        finally:
            self.embedded.apps[service] = original
            # the web's breaker for the service may have opened: the next test starts afresh
            self.embedded.contexts["web"].clients(service).breaker.record_success()


async def csrf_of(visitor: httpx.AsyncClient, path: str) -> str:
    found = CSRF_INPUT.search((await visitor.get(path)).text)
    assert found is not None, f"no CSRF field on {path}"
    return found.group(1)


async def add(visitor: httpx.AsyncClient, product_id: str, quantity: int = 1, **extra: str) -> httpx.Response:
    """Adds to the cart through the product page's form (``extra``: headers, e.g. htmx's)."""
    token = await csrf_of(visitor, f"/p/{product_id}")
    data = {"csrf_token": token, "product_id": product_id, "quantity": str(quantity), "next": "/cart"}
    return await visitor.post("/cart/add", data=data, headers=extra)


async def checkout_form(visitor: httpx.AsyncClient, **fields: str) -> dict[str, str]:
    """The checkout form as the page draws it (its CSRF token and idempotency key), filled in."""
    page = (await visitor.get("/checkout")).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert key and token, page
    form = {"csrf_token": token.group(1), "idempotency_key": key.group(1), "address_id": "new", "currency": "EUR"}
    return {**form, **CHECKOUT_ADDRESS, "country": "GB", **CHECKOUT_CARD, **fields}


@pytest.fixture(scope="package")
async def shop(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shop]:
    platform = platform_for_tests(tmp_path_factory.mktemp("web-shop"), jwks_file=None)
    specs = [module.spec for module in SPECS] + [web.spec]
    async with running_services(specs, platform, seed=True) as (client, embedded):
        email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
        await create_admin(embedded.contexts["identity"], email=email, password=PASSWORD)
        shop = Shop(client, embedded, email)

        async def stocked() -> bool:
            books = await shop.products(category="books")
            levels = [await client.get(f"/api/inventory/stock/{p['sku']}") for p in books[:3]]
            return all(level.status_code == 200 for level in levels)

        await eventually(stocked, within=60, what="inventory has stock for the seeded books")
        try:
            yield shop
        finally:
            for person in shop.people:
                await person.aclose()
