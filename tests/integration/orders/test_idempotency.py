"""One Idempotency-Key, one order: concurrent duplicates, replays, and a key reused for another body."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import delete

from agora.platform.idempotency import idempotency_keys
from agora.services.orders.models import Order
from agora.services.payments.models import Charge
from tests.support.stack import ADDRESS, DECLINED_CARD, GOOD_CARD, PROVIDER_ERROR_CARD, Stack


async def test_twenty_concurrent_checkouts_with_one_key_make_one_order_and_one_charge(stack: Stack) -> None:
    user = await stack.register()
    product = (await stack.products(1))[0]
    assert (await stack.add_to_cart(user, product["id"], 1)).status_code in (200, 201)
    key = str(uuid.uuid4())

    responses = await asyncio.gather(*(stack.checkout(user, key=key) for _ in range(20)))

    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses if r.status_code not in (201, 409)]
    created = [r for r in responses if r.status_code == 201]
    assert created and len({r.json()["id"] for r in created}) == 1
    order_id = created[0].json()["id"]
    for conflict in (r for r in responses if r.status_code == 409):
        assert [e["field"] for e in conflict.json()["errors"]] == ["Idempotency-Key"]
    assert await stack.count("orders", Order, Order.user_id == user.id) == 1
    assert await stack.count("payments", Charge, Charge.order_id == order_id) == 1

    replay = await stack.checkout(user, key=key)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == order_id


async def test_a_key_reused_for_another_body_is_refused(stack: Stack) -> None:
    user = await stack.register()
    product = (await stack.products(1))[0]
    assert (await stack.add_to_cart(user, product["id"], 1)).status_code in (200, 201)
    key = str(uuid.uuid4())
    first = await stack.checkout(user, key=key, currency="EUR")
    assert first.status_code == 201, first.text

    other = {"currency": "USD", "shipping_address": ADDRESS, "card": GOOD_CARD}
    reused = await stack.checkout(user, key=key, body=other)
    assert reused.status_code == 422, reused.text
    assert [e["field"] for e in reused.json()["errors"]] == ["Idempotency-Key"]
    assert await stack.count("orders", Order, Order.user_id == user.id) == 1


async def test_keys_are_per_user(stack: Stack) -> None:
    first, second = await stack.register(), await stack.register()
    product = (await stack.products(1))[0]
    for user in (first, second):
        assert (await stack.add_to_cart(user, product["id"], 1)).status_code in (200, 201)
    key = "shared-key-1"
    one, two = await stack.checkout(first, key=key), await stack.checkout(second, key=key)
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["id"] != two.json()["id"]


async def forget_key(stack: Stack, user_id: str, key: str) -> None:
    """What a process that died before storing the key's answer leaves: an order, no stored answer."""
    async with stack.context("orders").sessions() as session:
        await session.execute(
            delete(idempotency_keys).where(idempotency_keys.c.scope == user_id, idempotency_keys.c.key == key)
        )
        await session.commit()


async def test_a_key_without_a_stored_answer_is_answered_by_its_order(stack: Stack) -> None:
    user = await stack.register()
    product = (await stack.products(1))[0]
    assert (await stack.add_to_cart(user, product["id"], 1)).status_code in (200, 201)
    paid_key, declined_key = str(uuid.uuid4()), str(uuid.uuid4())
    paid = await stack.checkout(user, key=paid_key)
    assert (await stack.add_to_cart(user, product["id"], 1)).status_code in (200, 201)
    declined = await stack.checkout(user, key=declined_key, card=DECLINED_CARD)
    assert (paid.status_code, declined.status_code) == (201, 402)
    for key in (paid_key, declined_key):
        await forget_key(stack, user.id, key)

    again_paid = await stack.checkout(user, key=paid_key)
    again_declined = await stack.checkout(user, key=declined_key, card=DECLINED_CARD)

    assert (again_paid.status_code, again_paid.json()["id"]) == (201, paid.json()["id"])
    assert (again_declined.status_code, again_declined.json()["order_id"]) == (402, declined.json()["order_id"])
    assert await stack.count("orders", Order, Order.user_id == user.id) == 2
    assert await stack.count("payments", Charge, Charge.order_id == paid.json()["id"]) == 1
    # and the answer is stored again: the next retry is a plain replay
    replay = await stack.checkout(user, key=paid_key)
    assert replay.headers.get("idempotent-replayed") == "true"


@pytest.mark.parametrize(
    ("card", "status"), [(GOOD_CARD, 201), (DECLINED_CARD, 402), (PROVIDER_ERROR_CARD, 502)], ids=str
)
async def test_a_replay_is_the_first_answer_in_status_headers_and_bytes(
    stack: Stack, card: dict[str, Any], status: int
) -> None:
    """Issue 12, defect 4: the replay of a paid checkout had another ``updated_at`` and no
    ``Location``; a provider error (5xx) was not kept, so the same key made a second order."""
    user = await stack.register()
    product = (await stack.products(1))[0]
    assert (await stack.add_to_cart(user, product["id"], 1)).status_code in (200, 201)
    key = str(uuid.uuid4())

    first = await stack.checkout(user, key=key, card=card)
    again = await stack.checkout(user, key=key, card=card)

    assert (first.status_code, again.status_code) == (status, status), first.text
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    for header in ("content-type", "location", "retry-after"):
        assert first.headers.get(header) == again.headers.get(header), header
    assert first.content == again.content
    if status == 201:
        assert first.headers["location"] == f"/api/orders/{first.json()['id']}"
    assert await stack.count("orders", Order, Order.user_id == user.id) == 1
