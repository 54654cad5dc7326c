"""Issue 5's acceptance as a new user sees it: check out in `agora up`, then find the email in the
local mailbox, the notification (listed and pushed), an ad for the product's page, and analytics
answering on the seeded history."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready
from agora.platform.testing.waiting import polled

pytestmark = pytest.mark.backend("sqlite")

CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}


@pytest.fixture(scope="module")
def agora_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("after-checkout")
    port = free_port()
    env = {"AGORA_ENVIRONMENT": "development"}
    command = agora_command("up", "--port", str(port), "--data-dir", str(directory / "var"))
    with running_process(command, log_path=directory / "agora.log", env=env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=120, process=process)
        yield base, directory / "var"


def login(client: httpx.Client, email: str) -> dict[str, str]:
    password = "correct horse battery 7"
    client.post("/api/identity/register", json={"email": email, "password": password, "display_name": "Ada"})
    token = client.post("/api/identity/login", json={"email": email, "password": password}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_checkout_reaches_the_mailbox_and_the_notifications(agora_up) -> None:  # type: ignore[no-untyped-def]
    base, data_dir = agora_up
    with httpx.Client(base_url=base, timeout=30) as client:
        user = login(client, f"ada-{uuid.uuid4().hex[:8]}@example.com")
        other = login(client, f"bob-{uuid.uuid4().hex[:8]}@example.com")
        product = client.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
        polled(lambda: client.get(f"/api/inventory/stock/{product['sku']}").status_code == 200, what="stock")
        client.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=user)
        paid = client.post(
            "/api/orders/checkout",
            json={"currency": "USD", "shipping_address": ADDRESS, "card": CARD},
            headers={**user, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert paid.status_code == 201, paid.text
        order_id = paid.json()["id"]

        def notified() -> list[str]:
            items = client.get("/api/notifications", headers=user).json()["items"]
            return [item["kind"] for item in items if item["order_id"] == order_id]

        # both, in either order: "order_paid" may come from payments' capture event, which
        # payments publishes on its own, before orders' order.placed has been handled
        polled(lambda: {"order_placed", "order_paid"} <= set(notified()), what="the placed and paid notifications")
        assert client.get("/api/notifications", headers=other).json()["items"] == []

        mails = polled(
            lambda: [p for p in (data_dir / "mailbox").glob("*.eml") if order_id in p.read_text()],
            what="the order's emails in the mailbox",
        )
        assert len(mails) >= 1
        listed = subprocess.run(
            agora_command("mailbox", "--data-dir", str(data_dir)),
            env={**os.environ, "COLUMNS": "250"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        # subjects carry the short order number in capitals (#01BFE1BA)
        assert listed.returncode == 0 and order_id[:8].lower() in (listed.stdout + listed.stderr).lower()

        ads = client.get("/api/ads", params={"category": product["category"]["slug"], "keywords": product["name"]})
        assert ads.status_code == 200 and ads.json()["items"]
        recommended = polled(
            lambda: client.get(f"/api/recommendations/products/{product['id']}").json().get("items"),
            what="recommendations for the product page",
        )
        assert product["id"] not in {item["product_id"] for item in recommended}


def test_analytics_answers_on_the_seeded_history(agora_up) -> None:  # type: ignore[no-untyped-def]
    base, data_dir = agora_up
    created = subprocess.run(
        agora_command("create-admin", "--email", "ops@example.org", "--data-dir", str(data_dir)),
        env={**os.environ, "AGORA_ADMIN_PASSWORD": "operator passphrase 1", "AGORA_ENVIRONMENT": "development"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post(
            "/api/identity/login", json={"email": "ops@example.org", "password": "operator passphrase 1"}
        ).json()["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        summary = client.get("/api/analytics/orders/summary", headers=admin)
        assert summary.status_code == 200, summary.text
        body = summary.json()
        assert body["top_products"], body.keys()
        top = body["top_products"][0]["product_id"]
        forecast = client.post("/api/analytics/ml/predict", json={"product_id": top, "horizon_days": 7}, headers=admin)
        assert forecast.status_code == 200, forecast.text
        analysis = client.post("/api/analytics/ml/analyze", json={}, headers=admin)
        assert analysis.status_code == 200, analysis.text
