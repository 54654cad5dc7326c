"""One checkout is one trace, across processes and the broker (issue 15, item 1).

``agora up --distributed`` runs the services a checkout touches, each its own process, on a
private NATS JetStream, with every process exporting spans over OTLP/HTTP to a receiver this test
runs (it decodes the protobuf ``ExportTraceServiceRequest``s) and notifications sending its
emails to this test's SMTP server. One checkout through the front, then the trace is walked
from the SMTP send up to its root, parent by parent:

    front POST /api/orders/{path}                    SERVER   (the root)
      orders POST /api/orders/checkout               SERVER
        ... service calls (CLIENT, each the parent of the callee's SERVER span), SQL (CLIENT)
        orders create orders                         PRODUCER (the outbox row, in the request)
          orders send orders                         PRODUCER (the relay, later; messaging.system=nats)
            notifications orders.order.* process     CONSUMER
              notifications smtp send                CLIENT   (to this test's SMTP server)
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.brokers import PrivateNats
from agora.platform.testing.processes import (
    agora_command,
    free_port,
    free_port_block,
    running_process,
    wait_until_ready,
)
from tests.integration.notifications.support import smtp_server
from tests.support.shop import ADDRESS, GOOD_CARD, SHOPPER_PASSWORD, register_shopper
from tests.support.telemetry import (
    CLIENT,
    CONSUMER,
    PRODUCER,
    SERVER,
    ReceivedSpan,
    chain_to_root,
    otlp_receiver,
)

pytestmark = [pytest.mark.backend("nats"), pytest.mark.slow, pytest.mark.timeout(300)]

#: What a checkout touches, and notifications (identity gives it the recipient's address).
SERVICES = ("identity", "catalog", "inventory", "cart", "currency", "shipping", "payments", "orders", "notifications")


def complete_chain(spans: list[ReceivedSpan], trace_id: str, leaf_name: str) -> list[ReceivedSpan] | None:
    """The chain from the trace's ``leaf_name`` span up to the root, once every link has arrived."""
    for leaf in spans:
        if leaf.trace_id == trace_id and leaf.name == leaf_name:
            try:
                return chain_to_root(leaf, spans)
            except AssertionError:
                return None  # a parent's process has not exported it yet
    return None


def test_one_checkout_is_one_trace_from_the_front_to_the_smtp_send(tmp_path: Path, private_nats: PrivateNats) -> None:
    # a private NATS: on the shared one, another run's notifications process (same durable group)
    # could take this checkout's events
    broker_url = private_nats.url
    with otlp_receiver() as (receiver, endpoint), smtp_server() as (mailbox, smtp_port):
        port, first_service_port = free_port(), free_port_block(len(SERVICES))
        env = {
            "AGORA_ENVIRONMENT": "development",
            "AGORA_BROKER_URL": broker_url,
            "AGORA_OTLP_ENDPOINT": endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 0.2 s, not 5 s: the test waits on it
            "AGORA_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "AGORA_NOTIFICATIONS_SMTP_PORT": str(smtp_port),
        }
        only = [argument for name in SERVICES for argument in ("--only", name)]
        command = agora_command(
            "up", "--distributed", "--port", str(port), "--first-service-port", str(first_service_port),
            "--data-dir", str(tmp_path / "var"), *only,
        )  # fmt: skip
        with running_process(command, log_path=tmp_path / "up.log", env=env) as process:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(f"{base}/readyz", timeout=180, process=process)
            with httpx.Client(base_url=base, timeout=30) as client:
                email, user = register_shopper(client)
                product = client.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
                added = client.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=user)
                assert added.status_code in (200, 201), added.text
                paid = client.post(
                    "/api/orders/checkout",
                    json={"currency": "EUR", "shipping_address": ADDRESS, "card": GOOD_CARD},
                    headers={**user, "Idempotency-Key": str(uuid.uuid4())},
                )
                assert paid.status_code == 201, paid.text

            def checkout_root(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
                return next(
                    (
                        s
                        for s in spans
                        if s.service == "front" and s.attributes.get("url.path") == "/api/orders/checkout"
                    ),
                    None,
                )

            root = receiver.wait_for(checkout_root, within=30, what="the front's span of the checkout")
            chain = receiver.wait_for(
                lambda spans: complete_chain(spans, root.trace_id, "smtp send"),
                within=60,
                what="the checkout's trace down to the SMTP send, every parent exported",
            )
            assert mailbox.messages(email), "the test's SMTP server received the email"
        # stopped: each process flushed what it still held, so the trace is complete now
        trace = [s for s in receiver.spans if s.trace_id == root.trace_id]

    # -- the chain, leaf to root: each hop's parent is the span that caused it -----------------
    assert chain[-1] == root and root.parent_id is None and root.kind == SERVER
    smtp, consumer, send, create = chain[0], chain[1], chain[2], chain[3]
    assert (smtp.service, smtp.kind) == ("notifications", CLIENT)
    assert smtp.attributes["server.port"] == smtp_port and smtp.attributes["network.protocol.name"] == "smtp"
    assert (consumer.service, consumer.kind) == ("notifications", CONSUMER)  # across the broker
    assert (send.service, send.kind, send.name) == ("orders", PRODUCER, "send orders")  # the relay
    assert (create.service, create.kind, create.name) == ("orders", PRODUCER, "create orders")  # the outbox row
    for span in (consumer, send):
        assert span.attributes["messaging.system"] == "nats"
        assert span.attributes["messaging.destination.name"] == "orders"
    assert consumer.attributes["messaging.message.id"] == send.attributes["messaging.message.id"]
    assert consumer.attributes["messaging.operation.type"] == "process"
    assert send.attributes["messaging.operation.type"] == "send"
    upper = chain[4:]
    request = next(s for s in upper if s.service == "orders" and s.kind == SERVER)
    assert request.attributes["http.route"] == "/api/orders/checkout"
    assert request.parent_id == root.span_id  # the front's span is the parent across processes
    assert all(s.service == "orders" for s in upper[: upper.index(request) + 1])

    # -- every service call: the client span is the parent of the callee's server span ---------
    calls = [s for s in trace if s.kind == CLIENT and "http.request.method" in s.attributes]
    callees = {s.parent_id: s for s in trace if s.kind == SERVER}
    for call in calls:
        callee = callees.get(call.span_id)
        assert callee is not None, f"{call.service} -> {call.name}: no server span under it"
        assert callee.service == call.attributes["server.address"]
        assert callee.attributes["http.response.status_code"] == call.attributes["http.response.status_code"]
    called = {(call.service, call.attributes["server.address"]) for call in calls}
    assert {("orders", "payments"), ("orders", "inventory"), ("notifications", "identity")} <= called, called
    for server in (s for s in trace if s.kind == SERVER):
        assert {"http.request.method", "http.route", "http.response.status_code"} <= server.attributes.keys()

    # -- SQL: statement spans, each under a span of its own process ------------------------------
    by_id = {s.span_id: s for s in trace}
    statements = [s for s in trace if s.kind == CLIENT and {"db.system", "db.system.name"} & s.attributes.keys()]
    for service in ("orders", "payments", "inventory", "notifications"):
        assert any(s.service == service for s in statements), f"no SQL span of {service} in the checkout's trace"
    assert all(by_id[s.parent_id or ""].service == s.service for s in statements)
    assert any(request in chain_to_root(s, trace) for s in statements if s.service == "orders")
    assert any(consumer in chain_to_root(s, trace) for s in statements if s.service == "notifications")

    # -- and no process logged the shopper's password, token or card number ----------------------
    log = (tmp_path / "up.log").read_text()
    secrets = (SHOPPER_PASSWORD, user["Authorization"].split()[1], GOOD_CARD["number"])
    assert not [secret[:8] for secret in (*secrets, GOOD_CARD["number"].replace(" ", "")) if secret in log]
