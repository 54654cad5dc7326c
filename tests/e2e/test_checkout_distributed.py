"""Checkout with every service in its own process: PostgreSQL (a database each), Redis for carts,
the Kafka-protocol broker for events, the front proxy in front — the way a cluster runs it."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agora.deploy import graph
from agora.platform.messaging import topic_of
from agora.platform.testing.processes import (
    agora_command,
    free_port,
    free_port_block,
    running_process,
    serving_pids,
    wait_until_ready,
)
from agora.registry import service_specs
from tests.support.shop import ADDRESS, GOOD_CARD, register_shopper

# sixteen processes start on two cores: more than the suite's per-test limit
pytestmark = [
    pytest.mark.backend("postgresql"),
    pytest.mark.backend("kafka"),
    pytest.mark.backend("redis"),
    pytest.mark.timeout(600),
]

DECLINED_CARD = {**GOOD_CARD, "number": "4000 0000 0000 0002"}


def shopper(client: httpx.Client) -> dict[str, str]:
    return register_shopper(client)[1]


def poll(check, *, within: float = 60.0, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within:g}s: {what}"
        time.sleep(0.25)  # another process's effect: there is no event to await here


def wait_for_stock(client: httpx.Client, sku: str, deadline_seconds: float = 60) -> dict[str, int]:
    """Stock rows come from catalog events through Kafka: poll until the product's row exists."""

    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        response = client.get(f"/api/inventory/stock/{sku}")
        if response.status_code == 200 and response.json()["on_hand"] > 0:
            return dict(response.json())
        time.sleep(0.25)
    raise AssertionError(f"no stock for {sku} after {deadline_seconds}s")


def stop_service(name: str, port: int) -> None:
    """Stops the ``agora serve NAME --port PORT`` child of ``agora up --distributed`` and waits for it."""
    victims = serving_pids([port])
    assert victims, f"no process serving {name} on {port}"
    for pid in victims:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while serving_pids([port]):
        assert time.monotonic() < deadline, f"{name} did not stop"
        time.sleep(0.1)


def assert_traffic_within_the_graph(first_service_port: int) -> None:
    """What the journey really did, read from each process's own counters: every service-to-service
    call, consumed event and publish must be in the declared graph (agora.deploy.graph), which the
    cluster's NetworkPolicies and AuthorizationPolicies are generated from. The journey covers part
    of the graph; tests/k8s/test_graph.py checks the other direction against the code."""
    calls, consumed, published = set(), set(), set()
    for index, name in enumerate(spec.name for spec in service_specs()):
        text = httpx.get(f"http://127.0.0.1:{first_service_port + index}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.value <= 0:
                    continue
                if sample.name == "agora_http_client_requests_total":
                    calls.add((name, sample.labels["target"]))
                elif sample.name == "agora_events_consumed_total":
                    consumed.add((name, sample.labels["consumer"], topic_of(sample.labels["type"])))
                elif sample.name == "agora_outbox_published_total":
                    published.add(name)
    assert calls and consumed and published, "the journey called, consumed and published something"
    assert calls <= graph.http_edges(), sorted(calls - graph.http_edges())
    declared = {(n.name, c.group, t) for n in graph.NODES for c in graph.consumer_groups(n.name) for t in c.topics}
    assert consumed <= declared, sorted(consumed - declared)
    assert published <= {n.name for n in graph.NODES if n.publishes}, published


def test_checkout_across_processes(tmp_path: Path, databases: dict[str, str], kafka_url: str, redis_url: str) -> None:
    port, first_service_port = free_port(), free_port_block(len(databases))
    env = {f"AGORA_{name.upper()}_DATABASE_URL": url for name, url in databases.items()}
    env.update(AGORA_BROKER_URL=kafka_url, AGORA_REDIS_URL=redis_url, AGORA_ENVIRONMENT="development")
    command = agora_command(
        "up", "--distributed", "--port", str(port), "--first-service-port", str(first_service_port),
        "--data-dir", str(tmp_path / "var"),
    )  # fmt: skip
    with running_process(command, log_path=tmp_path / "up.log", env=env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=240, process=process)
        with httpx.Client(base_url=base, timeout=30) as client:
            user = shopper(client)
            products = client.get("/api/catalog/products", params={"limit": 3}).json()["items"]
            before = {p["sku"]: wait_for_stock(client, p["sku"]) for p in products}
            for quantity, product in enumerate(products, start=1):
                added = client.post(
                    "/api/cart/items", json={"product_id": product["id"], "quantity": quantity}, headers=user
                )
                assert added.status_code in (200, 201), added.text
            cart = client.get("/api/cart", headers=user).json()
            assert cart["item_count"] == 6

            paid = client.post(
                "/api/orders/checkout",
                json={"currency": "EUR", "shipping_address": ADDRESS, "card": GOOD_CARD},
                headers={**user, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert paid.status_code == 201, paid.text
            order = paid.json()
            assert order["status"] == "paid" and order["total"]["currency"] == "EUR"
            history = client.get("/api/orders", headers=user).json()["items"]
            assert [item["id"] for item in history] == [order["id"]]
            for quantity, product in enumerate(products, start=1):
                now = client.get(f"/api/inventory/stock/{product['sku']}").json()
                assert now["on_hand"] == before[product["sku"]]["on_hand"] - quantity
            assert client.get("/api/cart", headers=user).json()["item_count"] == 0

            # the event-driven services, each in its own process, hear about it through Kafka
            def notified() -> bool:
                answer = client.get("/api/notifications", headers=user)
                items = answer.json()["items"] if answer.status_code == 200 else []  # busy: not yet
                return any(item["order_id"] == order["id"] and item["kind"] == "order_paid" for item in items)

            poll(notified, what="the order_paid notification through Kafka")
            bought = [line["product_id"] for line in order["items"]]

            def bought_together() -> bool:
                answer = client.get(f"/api/recommendations/products/{bought[0]}")
                items = answer.json()["items"] if answer.status_code == 200 else []  # busy: not yet
                return any(item["reason"] == "bought_together" and item["product_id"] in bought for item in items)

            poll(bought_together, what="bought-together recommendations through Kafka")

            client.post("/api/cart/items", json={"product_id": products[0]["id"], "quantity": 1}, headers=user)
            declined = client.post(
                "/api/orders/checkout",
                json={"currency": "USD", "shipping_address": ADDRESS, "card": DECLINED_CARD},
                headers={**user, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert declined.status_code == 402, declined.text
            failed = client.get(f"/api/orders/{declined.json()['order_id']}", headers=user).json()
            assert failed["status"] == "failed" and failed["failure"]["reason"]
            stock = client.get(f"/api/inventory/stock/{products[0]['sku']}").json()
            assert stock["on_hand"] == before[products[0]["sku"]]["on_hand"] - 1 and stock["reserved"] == 0

            ready = client.get("/readyz").json()["checks"]
            assert set(ready) == set(databases) and set(ready.values()) == {"ok"}

            assert_traffic_within_the_graph(first_service_port)

            # payments goes down: checkout fails cleanly and gives the stock back; the rest works
            names = [spec.name for spec in service_specs()]
            stop_service("payments", first_service_port + names.index("payments"))
            unavailable = client.post(
                "/api/orders/checkout",
                json={"currency": "USD", "shipping_address": ADDRESS, "card": GOOD_CARD},
                headers={**user, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert unavailable.status_code in (502, 503), unavailable.text
            problem = unavailable.json()
            assert problem["code"] == "payments_unavailable" and "nothing was charged" in problem["reason"]
            failed = client.get(f"/api/orders/{problem['order_id']}", headers=user).json()
            assert failed["status"] == "failed"
            stock = client.get(f"/api/inventory/stock/{products[0]['sku']}").json()
            assert stock["on_hand"] == before[products[0]["sku"]]["on_hand"] - 1 and stock["reserved"] == 0
            assert client.get("/api/catalog/products", params={"limit": 1}).status_code == 200
            assert client.get("/api/cart", headers=user).json()["item_count"] == 1  # kept for a retry
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert {name for name, state in ready.json()["checks"].items() if state != "ok"} == {"payments"}
    assert serving_pids(range(first_service_port, first_service_port + len(databases))) == []
    log = (tmp_path / "up.log").read_text()
    assert '"database":"postgresql"' in log and '"broker":"kafka"' in log
    # every service's pool is its share of one budget on the one server (PostgreSQL admits 100)
    share = 80 // len(databases)
    assert f"Database server 127.0.0.1:5432: at most {share * len(databases)} connections" in log
    assert log.count(f'"pool_size":{share},') >= len(databases)
