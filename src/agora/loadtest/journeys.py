"""The shoppers of ``agora loadtest``: Locust's file of users, loaded by the Locust process only.

Never import this module from agora: Locust patches the standard library with gevent when it
starts, and a process that imported ssl before that dies with RecursionError (see
``agora.loadtest``). It imports nothing but Locust and the standard library.

Each simulated shopper walks one journey after another, thinking ``THINK_SECONDS`` between them:

=========== ====== ================================================================================
journey     weight requests
=========== ====== ================================================================================
browse        30   categories; a category's first page of products; half the time the next page
search        15   a word from a product's name
product       20   a product; its "bought together" recommendations; its stock
cart          10   add a product to the cart; read the cart
account        5   register a new account and log in (a shopper's first account-needing journey
                   does this too, under this name)
checkout       5   add one or two products, check out with a test card: 1 in 5 is declined (402)
orders         7   order history; the newest order
support        3   open (or reopen) the support conversation, send a message, read the history
storefront     5   the shop's home page and a product page (HTML, rendered by the web service)
=========== ====== ================================================================================

Journeys follow a smooth weighted round robin shared by every shopper of the process, not a
random draw: any 100 consecutive journeys hold each one exactly its weight, and the first nine
are one of each, so even a 15-second run exercises every journey (a random draw can skip a rare
one in a short run).

Expected answers are not errors: a declined card's 402 and an out-of-stock 409 at checkout are
the shop working as it should. Anything else outside 2xx is a failure in the report.

Request names are ``<journey> <route>`` (ids as ``{id}``), so the report groups them by journey.

Where requests go: everything to Locust's host (``--url``: ``agora up``, the front, an ingress),
unless ``AGORA_LOADTEST_SERVICE_URL`` holds a template such as ``http://{service}:8000``: then
``/api/<service>/...`` goes to that service's own URL and only the pages to the host (inside a
cluster, where the web Service serves the pages and each service its API).
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from locust import FastHttpUser, between, task

THINK_SECONDS = (1.0, 4.0)

WEIGHTS = {
    "browse": 30,
    "search": 15,
    "product": 20,
    "cart": 10,
    "account": 5,
    "checkout": 5,
    "orders": 7,
    "support": 3,
    "storefront": 5,
}

PASSWORD = "load test passphrase 42"  # noqa: S105 - the simulated shoppers' own, on test accounts
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
DECLINED_SHARE = 0.2
ADDRESS = {
    "name": "Load Tester",
    "line1": "1 Benchmark Street",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}


SERVICE_URL = os.environ.get("AGORA_LOADTEST_SERVICE_URL", "")


def api(path: str) -> str:
    """``/api/<service>/...`` at the service's own URL when a template is set, else on the host."""
    if not SERVICE_URL:
        return path
    return SERVICE_URL.format(service=path.split("/", 3)[2]).rstrip("/") + path


def smooth_round_robin(weights: dict[str, int]) -> Iterator[str]:
    """Each name once, then names in proportion to their weights, spread evenly (nginx's smooth
    weighted round robin: every pick adds each weight to its credit, the largest credit wins and
    pays the total back)."""
    yield from sorted(weights, key=lambda name: weights[name])
    total = sum(weights.values())
    credit = dict.fromkeys(weights, 0)
    while True:
        for name, weight in weights.items():
            credit[name] += weight
        chosen = max(credit, key=lambda name: credit[name])
        credit[chosen] -= total
        yield chosen


_SCHEDULE = smooth_round_robin({name: weight for name, weight in WEIGHTS.items() if weight > 0})


class Catalog:
    """What the shoppers pick from: fetched once per Locust process, by the first shopper."""

    products: list[dict[str, Any]] = []
    categories: list[str] = []
    words: list[str] = []


class Shopper(FastHttpUser):
    wait_time = between(*THINK_SECONDS)
    # a shop on loopback answers in milliseconds: anything near this is an error worth seeing
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.token: str | None = None
        self.email = ""
        if not Catalog.products:
            self._load_catalog()

    # -- plumbing ---------------------------------------------------------------------------------

    def _load_catalog(self) -> None:
        products: list[dict[str, Any]] = []
        cursor = None
        for _ in itertools.repeat(None, 20):  # 2,000 products are plenty to pick from
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = self.client.get(
                api("/api/catalog/products"), params=params, name="browse /api/catalog/products"
            ).json()
            products += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        categories = self.client.get(api("/api/catalog/categories"), name="browse /api/catalog/categories").json()
        items = categories["items"] if isinstance(categories, dict) else categories
        Catalog.categories = [category["slug"] for category in items]
        Catalog.words = sorted({word for product in products for word in product["name"].split() if len(word) > 3})
        Catalog.products = products

    def _auth(self) -> dict[str, str]:
        if self.token is None:
            self.account()
        return {"Authorization": f"Bearer {self.token}"}

    def _expect(self, method: str, path: str, name: str, expected: tuple[int, ...], **kwargs: Any) -> Any:
        """One request; statuses in ``expected`` are successes, anything else a failure."""
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as response:
            if response.status_code in expected:
                response.success()
            elif response.status_code == 0:  # no answer: a timeout or a refused connection
                response.failure(f"no answer: {response.error!r}")
            else:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")
            return response

    # -- the journeys -----------------------------------------------------------------------------

    @task
    def next_journey(self) -> None:
        journeys: dict[str, Callable[[], None]] = {
            "browse": self.browse,
            "search": self.search,
            "product": self.product,
            "cart": self.cart,
            "account": self.account,
            "checkout": self.checkout,
            "orders": self.orders,
            "support": self.support,
            "storefront": self.storefront,
        }
        journeys[next(_SCHEDULE)]()

    def browse(self) -> None:
        self.client.get(api("/api/catalog/categories"), name="browse /api/catalog/categories")
        category = random.choice(Catalog.categories)
        page = self.client.get(
            api("/api/catalog/products"),
            params={"category": category, "limit": 20},
            name="browse /api/catalog/products?category",
        ).json()
        if page.get("next_cursor") and random.random() < 0.5:
            self.client.get(
                api("/api/catalog/products"),
                params={"category": category, "limit": 20, "cursor": page["next_cursor"]},
                name="browse /api/catalog/products?cursor",
            )

    def search(self) -> None:
        word = random.choice(Catalog.words)
        self.client.get(
            api("/api/catalog/products"), params={"q": word, "limit": 20}, name="search /api/catalog/products?q"
        )

    def product(self) -> None:
        chosen = random.choice(Catalog.products)
        self.client.get(api(f"/api/catalog/products/{chosen['id']}"), name="product /api/catalog/products/{id}")
        self.client.get(
            api(f"/api/recommendations/products/{chosen['id']}"), name="product /api/recommendations/products/{id}"
        )
        self.client.get(api(f"/api/inventory/stock/{chosen['sku']}"), name="product /api/inventory/stock/{sku}")

    def cart(self) -> None:
        headers = self._auth()
        chosen = random.choice(Catalog.products)
        self.client.post(
            api("/api/cart/items"),
            json={"product_id": chosen["id"], "quantity": 1},
            headers=headers,
            name="cart /api/cart/items",
        )
        self.client.get(api("/api/cart"), headers=headers, name="cart /api/cart")

    def account(self) -> None:
        email = f"load-{uuid.uuid4().hex}@example.org"
        self._expect(
            "POST",
            api("/api/identity/register"),
            "account /api/identity/register",
            (201,),
            json={"email": email, "password": PASSWORD, "display_name": "Load Tester"},
        )
        login = self._expect(
            "POST",
            api("/api/identity/login"),
            "account /api/identity/login",
            (200,),
            json={"email": email, "password": PASSWORD},
        )
        if login.status_code == 200:
            self.email, self.token = email, login.json()["access_token"]
            self.client.get(api("/api/identity/me"), headers=self._auth(), name="account /api/identity/me")

    def checkout(self) -> None:
        headers = self._auth()
        for chosen in random.sample(Catalog.products, k=random.randint(1, 2)):
            self.client.post(
                api("/api/cart/items"),
                json={"product_id": chosen["id"], "quantity": 1},
                headers=headers,
                name="checkout /api/cart/items",
            )
        declined = random.random() < DECLINED_SHARE
        card = {
            "number": DECLINED_CARD if declined else GOOD_CARD,
            "exp_month": 12,
            "exp_year": datetime.now(UTC).year + 3,
            "cvc": "123",
        }
        self._expect(
            "POST",
            api("/api/orders/checkout"),
            "checkout /api/orders/checkout",
            # paid, or out of stock; the declined card's 402 only for that card
            (201, 402, 409) if declined else (201, 409),
            json={"currency": random.choice(("EUR", "USD", "GBP")), "shipping_address": ADDRESS, "card": card},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )

    def orders(self) -> None:
        headers = self._auth()
        page = self.client.get(api("/api/orders"), headers=headers, name="orders /api/orders").json()
        items = page.get("items", []) if isinstance(page, dict) else []
        if items:
            self.client.get(api(f"/api/orders/{items[0]['id']}"), headers=headers, name="orders /api/orders/{id}")

    def support(self) -> None:
        headers = self._auth()
        opened = self._expect(
            "POST",
            api("/api/support/conversations"),
            "support /api/support/conversations",
            (200, 201),
            json={"subject": "Where is my parcel?"},
            headers=headers,
        )
        if opened.status_code not in (200, 201):
            return
        conversation = opened.json()["id"]
        self._expect(
            "POST",
            api(f"/api/support/conversations/{conversation}/messages"),
            "support /api/support/conversations/{id}/messages (post)",
            (201,),
            json={"body": "Hello, could you tell me when my order ships?"},
            headers=headers,
        )
        self.client.get(
            api(f"/api/support/conversations/{conversation}/messages"),
            headers=headers,
            name="support /api/support/conversations/{id}/messages",
        )

    def storefront(self) -> None:
        self.client.get("/", name="storefront /")
        self.client.get(f"/p/{random.choice(Catalog.products)['id']}", name="storefront /p/{id}")
