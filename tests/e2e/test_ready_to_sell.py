"""Ready means ready to sell (issue 12, defect 8).

A fresh ``agora up`` answered ``/readyz`` 200 about two seconds before inventory held stock (the
catalog's seed events were still on their way), so a checkout in that window failed. Now the
first 200 is given only once every service has handled what was waiting for it at start-up: at
that very moment every demo product has stock and a checkout succeeds.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora.platform.testing.processes import agora_command, free_port, running_process
from agora.platform.testing.waiting import polled
from tests.support.crashes import login
from tests.support.stack import ADDRESS, GOOD_CARD, PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.backend("sqlite")]


def first_ready(client: httpx.Client, process: Any, *, within: float = 180.0) -> None:
    """Returns at the first 200 from ``/readyz`` (asked every 50 ms), not a moment later."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, "agora up exited"
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.05)  # the moment of readiness is what is measured: poll often, no event to await
    raise AssertionError(f"/readyz not 200 within {within:g}s")


def every_product(client: httpx.Client) -> list[dict[str, Any]]:
    products, cursor = [], None
    while True:
        page = client.get("/api/catalog/products", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        products += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return products


def test_the_first_ready_answer_means_every_demo_product_can_be_sold(tmp_path: Path) -> None:
    port = free_port()
    command = agora_command("up", "--port", str(port), "--data-dir", str(tmp_path / "var"))
    env = {"AGORA_ENVIRONMENT": "development", "AGORA_LOG_LEVEL": "WARNING"}
    with (
        running_process(command, log_path=tmp_path / "agora.log", env=env) as process,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        # the shopper is ready before the shop: register while the services still catch up
        polled(lambda: _answers(client, "/healthz"), within=180, what="agora up listening")
        email = f"first-{uuid.uuid4().hex[:8]}@example.org"
        assert client.post("/api/identity/register", json={"email": email, "password": PASSWORD}).status_code == 201
        user = login(client, email, PASSWORD)

        first_ready(client, process)

        products = every_product(client)
        skus = [product["sku"] for product in products]
        stock: dict[str, int] = {}
        for start in range(0, len(skus), 100):
            page = client.get("/api/inventory/stock", params={"sku": skus[start : start + 100]})
            assert page.status_code == 200, page.text
            stock.update({row["sku"]: row["available"] for row in page.json()["items"]})
        assert products and all(stock.get(sku, 0) > 0 for sku in skus), {s: stock.get(s) for s in skus}
        added = client.post("/api/cart/items", json={"product_id": products[-1]["id"], "quantity": 1}, headers=user)
        assert added.status_code in (200, 201), added.text
        body = {"currency": "USD", "shipping_address": ADDRESS, "card": GOOD_CARD}
        checkout = client.post(
            "/api/orders/checkout", json=body, headers={**user, "Idempotency-Key": str(uuid.uuid4())}
        )
        assert checkout.status_code == 201, checkout.text


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False
