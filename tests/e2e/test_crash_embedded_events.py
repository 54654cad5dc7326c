"""Embedded mode keeps the at-least-once promise across a crash (issue 12, defect 1).

``agora up`` runs as a real process. A fault injected by this test holds the consumers of order
events and kills the process (``os._exit``) right after the outbox relay marked
``orders.order.placed`` published: the in-process broker had accepted the events, nobody had
handled them. After a restart every consumer's effect appears: the "order placed" notification,
the analytics fact and the recommendations' paid order. (Before the broker journaled what it
accepted, they were lost: marked published, never delivered.)
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora.platform.testing.processes import agora_command
from agora.platform.testing.waiting import polled
from tests.support.crashes import CRASH_EXIT_CODE, agora_up, agora_with_fault, login
from tests.support.stack import ADDRESS, GOOD_CARD, PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.backend("sqlite")]


def rows(database: Path, query: str, *params: str) -> list[Any]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute(query, params).fetchall()


def test_events_accepted_before_a_crash_are_handled_after_the_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    email = f"crash-{uuid.uuid4().hex[:8]}@example.org"
    up = ("up", "--data-dir", str(data_dir))
    with agora_up(agora_with_fault("crash_once_order_events_are_published", *up), tmp_path / "crash.log") as (
        client,
        process,
    ):
        assert client.post("/api/identity/register", json={"email": email, "password": PASSWORD}).status_code == 201
        user = login(client, email, PASSWORD)
        product = client.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
        polled(lambda: client.get(f"/api/inventory/stock/{product['sku']}").status_code == 200, within=60, what="stock")
        added = client.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=user)
        assert added.status_code in (200, 201), added.text
        body = {"currency": "USD", "shipping_address": ADDRESS, "card": GOOD_CARD}
        try:  # the relay may kill the process before or after the answer is sent
            client.post("/api/orders/checkout", json=body, headers={**user, "Idempotency-Key": str(uuid.uuid4())})
        except httpx.TransportError:
            pass
        assert process.wait(timeout=60) == CRASH_EXIT_CODE

    with agora_up(agora_command(*up), tmp_path / "restart.log") as (client, _):
        user = login(client, email, PASSWORD)
        orders = polled(lambda: client.get("/api/orders", headers=user).json()["items"], what="the order")
        order_id = orders[0]["id"]
        assert orders[0]["status"] == "paid"

        def kinds() -> set[str]:
            items = client.get("/api/notifications", headers=user).json()["items"]
            return {item["kind"] for item in items if item["order_id"] == order_id}

        assert {"order_placed", "order_paid"} <= polled(
            lambda: kinds() >= {"order_placed", "order_paid"} and kinds(), what="the order's notifications"
        )
        polled(
            lambda: rows(data_dir / "analytics.db", "SELECT 1 FROM order_facts WHERE order_id = ?", order_id),
            what="the analytics fact",
        )
        polled(
            lambda: rows(data_dir / "recommendations.db", "SELECT 1 FROM paid_orders WHERE order_id = ?", order_id),
            what="the recommendations' paid order",
        )
