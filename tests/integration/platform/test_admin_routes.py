"""Every service's operator routes: messaging state, dead-letter replay and configuration (admin only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from agora.contracts.catalog import PRODUCT_CREATED
from agora.platform.http.admin import MASK, masked
from agora.platform.messaging import Envelope
from tests.e2e.test_dead_letters import PRODUCT as DEAD_LETTER_PRODUCT
from tests.support.stack import Stack, eventually, running_stack

pytestmark = pytest.mark.backend("sqlite")

#: the parked product of the dead-letter command's test, under an id and sku of its own
PRODUCT = {**DEAD_LETTER_PRODUCT, "id": "8e8e8e8e-0000-4000-8000-000000000001", "sku": "OPS-0001"}


@pytest.fixture
async def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running_stack("sqlite", tmp_path, stocked=1) as running:
        yield running


async def park(stack: Stack) -> None:
    """inventory's consumer meets a broken table until it gives up: a real dead letter."""
    context = stack.context("inventory")
    async with context.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE stock RENAME TO stock_away"))
    (consumer,) = [c for c in context.spec.consumers(context)] if context.spec.consumers else []
    await consumer.dispatch(Envelope(type=PRODUCT_CREATED, source="agora/catalog", data={"product": PRODUCT}))
    async with context.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE stock_away RENAME TO stock"))


async def test_only_admins_see_the_operator_routes(stack: Stack) -> None:
    customer = await stack.register()
    for path in ("/api/catalog/admin/messaging", "/api/orders/admin/config"):
        assert (await stack.client.get(path)).status_code == 401
        refused = await stack.client.get(path, headers=customer.headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
    replay = await stack.client.post("/api/inventory/admin/dead-letters/1/replay", headers=customer.headers)
    assert replay.status_code == 403


async def test_dead_letter_is_listed_then_replayed_to_its_consumer(stack: Stack) -> None:
    admin = await stack.admin()
    await park(stack)
    listed = (await stack.client.get("/api/inventory/admin/messaging", headers=admin.headers)).json()
    assert listed["service"] == "inventory"
    (letter,) = [d for d in listed["dead_letters"] if d["type"] == PRODUCT_CREATED]
    assert letter["attempts"] >= 1 and "stock" in letter["error"]

    missing = await stack.client.post("/api/inventory/admin/dead-letters/999999/replay", headers=admin.headers)
    assert missing.status_code == 404

    replayed = await stack.client.post(
        f"/api/inventory/admin/dead-letters/{letter['id']}/replay", headers=admin.headers
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["replayed"] == letter["id"]

    async def stocked() -> bool:
        return (await stack.client.get(f"/api/inventory/stock/{PRODUCT['sku']}")).status_code == 200

    await eventually(stocked, within=10)
    after = (await stack.client.get("/api/inventory/admin/messaging", headers=admin.headers)).json()
    assert all(d["id"] != letter["id"] for d in after["dead_letters"])


async def test_outbox_backlog_is_counted(stack: Stack) -> None:
    admin = await stack.admin()
    context = stack.context("catalog")
    await context.relay.stop()  # nothing publishes: a new product's event waits in the outbox
    try:
        body = {
            "sku": "OPS-BACKLOG-1",
            "name": "Waiting Lamp",
            "price": {"amount": 1000, "currency": "USD"},
            "category": "home",
        }
        created = await stack.client.post("/api/catalog/products", json=body, headers=admin.headers)
        assert created.status_code == 201, created.text
        state = (await stack.client.get("/api/catalog/admin/messaging", headers=admin.headers)).json()
        assert state["outbox"]["pending"] >= 1
        assert state["outbox"]["oldest_pending_seconds"] is not None
    finally:
        context.relay.start()
    await eventually(
        lambda: _pending(stack, admin.headers, "catalog"),
        within=10,
    )


async def _pending(stack: Stack, headers: dict[str, str], service: str) -> bool:
    state = (await stack.client.get(f"/api/{service}/admin/messaging", headers=headers)).json()
    return bool(state["outbox"]["pending"] == 0)


async def test_config_masks_secrets(stack: Stack) -> None:
    admin = await stack.admin()
    response = await stack.client.get("/api/payments/admin/config", headers=admin.headers)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["service"] == "payments"
    assert document["platform"]["secret_key"] == MASK
    assert document["platform"]["service_secret"] == MASK
    secret = stack.context("payments").platform.secret_key.get_secret_value()
    assert secret not in response.text
    assert "database_url" in document["settings"]


def test_url_passwords_and_secret_names_are_masked() -> None:
    assert masked("database_url", "postgresql+asyncpg://agora:hunter2@db:5432/x") == (
        f"postgresql+asyncpg://agora:{MASK}@db:5432/x"
    )
    assert masked("redis_url", "redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert masked("smtp_password", "hunter2") == MASK
    assert masked("api_key", "abc") == MASK
    assert masked("port", 8101) == 8101
    assert masked("service_urls", {"catalog": "http://u:p@h:1"}) == {"catalog": f"http://u:{MASK}@h:1"}
