"""Charging cards over HTTP: the documented test cards, Idempotency-Key semantics, reads."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client import REGISTRY
from sqlalchemy import select

from agora.contracts.payments import PAYMENT_CAPTURED, PAYMENT_DECLINED, Charge, PaymentCaptured, PaymentDeclined
from agora.platform.messaging import outbox
from tests.integration.payments.conftest import (
    API,
    DECLINED,
    PROVIDER_ERROR,
    Payments,
    bearer,
    charge_body,
    new_order_id,
)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_success_card_is_captured(payments: Payments) -> None:
    captured_before = metric("agora_payments_charges_total", outcome="captured")
    usd_before = metric("agora_payments_amount_minor_total", currency="USD")
    body = charge_body(amount=2500)

    response = await payments.charge(body)

    assert response.status_code == 201, response.text
    charge = Charge.model_validate(response.json())
    assert response.headers["location"] == f"{API}/charges/{charge.id}"
    assert "idempotent-replayed" not in response.headers
    assert (charge.order_id, charge.user_id, charge.status) == (body["order_id"], "user-42", "captured")
    assert (charge.amount.amount, charge.amount.currency) == (2500, "USD")
    assert (charge.card.brand, charge.card.last4) == ("visa", "4242")
    assert charge.refund is None and charge.failure_code is None
    [row] = await payments.charges_of(body["order_id"])
    assert (row.id, row.status, row.card_last4, row.amount) == (charge.id, "captured", "4242", 2500)
    [event] = [e for e in await payments.events(PAYMENT_CAPTURED) if e["subject"] == charge.id]
    assert event["key"] == body["order_id"]
    data = PaymentCaptured.model_validate(event["data"])
    assert (data.charge_id, data.order_id, data.amount.amount, data.card.last4) == (
        charge.id,
        body["order_id"],
        2500,
        "4242",
    )
    assert metric("agora_payments_charges_total", outcome="captured") == captured_before + 1
    assert metric("agora_payments_amount_minor_total", currency="USD") == usd_before + 2500


async def test_any_other_valid_card_succeeds_with_its_brand(payments: Payments) -> None:
    for number, brand, cvc in (
        ("5555 5555 5555 4444", "mastercard", "321"),
        ("3782-822463-10005", "amex", "1234"),
        ("6011 1111 1111 1117", "discover", "555"),
    ):
        response = await payments.charge(charge_body(number, cvc=cvc))
        assert response.status_code == 201, response.text
        assert response.json()["card"]["brand"] == brand
        assert response.json()["card"]["last4"] == number[-4:]


async def test_the_decline_card_is_a_402_that_is_recorded_and_replayed(payments: Payments) -> None:
    declined_before = metric("agora_payments_charges_total", outcome="declined")
    body = charge_body(DECLINED)
    key = str(uuid.uuid4())

    first = await payments.charge(body, key=key)

    assert first.status_code == 402, first.text
    assert first.headers["content-type"] == "application/problem+json"
    problem = first.json()
    assert problem["reason"] == "card_declined"
    assert problem["status"] == 402
    [row] = await payments.charges_of(body["order_id"])
    assert (row.id, row.status, row.failure_code) == (problem["charge_id"], "declined", "card_declined")
    [event] = [e for e in await payments.events(PAYMENT_DECLINED) if e["subject"] == row.id]
    assert PaymentDeclined.model_validate(event["data"]).failure_code == "card_declined"
    assert metric("agora_payments_charges_total", outcome="declined") == declined_before + 1

    counts = await payments.counts()
    again = await payments.charge(body, key=key)
    assert again.status_code == 402
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == problem
    assert await payments.counts() == counts
    assert metric("agora_payments_charges_total", outcome="declined") == declined_before + 1


async def test_a_provider_error_is_a_502_that_records_nothing_and_frees_the_key(payments: Payments) -> None:
    before = await payments.counts()
    errors_before = metric("agora_payments_charges_total", outcome="provider_error")
    body = charge_body(PROVIDER_ERROR)
    key = str(uuid.uuid4())

    for _ in range(2):  # the retry with the same key runs again: not replayed, not "in flight"
        response = await payments.charge(body, key=key)
        assert response.status_code == 502, response.text
        assert response.json()["reason"] == "provider_error"
        assert "idempotent-replayed" not in response.headers
        assert await payments.counts() == before

    assert await payments.charges_of(body["order_id"]) == []
    assert metric("agora_payments_charges_total", outcome="provider_error") == errors_before + 2


async def test_the_same_key_sent_twenty_times_at_once_charges_once(payments: Payments) -> None:
    body = charge_body()
    headers = bearer(payments.service_token, str(uuid.uuid4()))

    responses = await asyncio.gather(
        *(payments.client.post(f"{API}/charges", json=body, headers=headers) for _ in range(20))
    )

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert created, statuses
    assert len({r.content for r in created}) == 1  # every 201 is the same charge, replayed
    assert sum(1 for r in created if "idempotent-replayed" not in r.headers) <= 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(await payments.charges_of(body["order_id"])) == 1

    replay = await payments.client.post(f"{API}/charges", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == created[0].content


async def test_the_same_key_with_another_body_is_a_422_that_changes_nothing(payments: Payments) -> None:
    key = str(uuid.uuid4())
    body = charge_body()
    assert (await payments.charge(body, key=key)).status_code == 201
    before = await payments.counts()

    for other in (
        {**body, "amount": {"amount": 1, "currency": "USD"}},
        {**body, "card": {**body["card"], "number": "5555 5555 5555 4444"}},
        charge_body(),
    ):
        response = await payments.charge(other, key=key)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"

    assert await payments.counts() == before


async def test_keys_are_per_caller(payments: Payments, token_factory) -> None:  # type: ignore[no-untyped-def]
    """Two callers that happen to pick the same key each get their own charge."""
    key = str(uuid.uuid4())
    other_service = token_factory(roles=["service"], subject="service:other")
    first = await payments.charge(charge_body(), key=key)
    second = await payments.charge(charge_body(), key=key, token=other_service)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


async def test_an_admin_may_charge(payments: Payments, admin_token: str) -> None:
    response = await payments.charge(charge_body(), token=admin_token)
    assert response.status_code == 201, response.text


async def test_an_order_with_a_captured_charge_is_not_charged_again(payments: Payments) -> None:
    order_id = new_order_id()
    await payments.captured(order_id=order_id)
    before = await payments.counts()

    response = await payments.charge(charge_body(order_id=order_id))

    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == "order_id"
    assert len(await payments.charges_of(order_id)) == 1
    # the refusal is an answer: stored for its key like any other (one more key row, nothing else)
    after = await payments.counts()
    assert {**after, "idempotency_keys": before["idempotency_keys"]} == before


async def test_reading_charges_by_id_and_by_order(payments: Payments) -> None:
    order_id = new_order_id()
    declined = await payments.charge(charge_body(DECLINED, order_id=order_id))
    captured = await payments.captured(order_id=order_id)
    headers = bearer(payments.service_token)

    one = await payments.client.get(f"{API}/charges/{captured['id']}", headers=headers)
    assert one.status_code == 200
    assert one.json() == captured

    listed = await payments.client.get(f"{API}/charges", params={"order_id": order_id}, headers=headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [c["id"] for c in items] == [captured["id"], declined.json()["charge_id"]]  # newest first
    assert [c["status"] for c in items] == ["captured", "declined"]
    assert listed.json()["next_cursor"] is None

    none = await payments.client.get(f"{API}/charges", params={"order_id": new_order_id()}, headers=headers)
    assert none.json() == {"items": [], "next_cursor": None}

    missing = await payments.client.get(f"{API}/charges/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_listing_pages_with_a_cursor(payments: Payments) -> None:
    headers = bearer(payments.service_token)
    for _ in range(3):
        await payments.captured()
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await payments.client.get(f"{API}/charges", params=params, headers=headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == (await payments.counts())["charges"]

    first = (await payments.client.get(f"{API}/charges", params={"limit": 1}, headers=headers)).json()
    other_list = await payments.client.get(
        f"{API}/charges", params={"cursor": first["next_cursor"], "order_id": "order-x"}, headers=headers
    )
    assert other_list.status_code == 422
    assert other_list.json()["errors"][0]["field"] == "query.cursor"
    cursor = first["next_cursor"]
    # change the first character: the payload's first byte differs, so the signature no longer fits
    # (the last base64 character carries bits the decoder ignores, so changing it may change nothing)
    tampered_cursor = ("B" if cursor[0] == "A" else "A") + cursor[1:]
    tampered = await payments.client.get(f"{API}/charges", params={"cursor": tampered_cursor}, headers=headers)
    assert tampered.status_code == 422
    assert tampered.json()["errors"][0]["field"] == "query.cursor"


async def test_racing_charges_of_one_order_with_different_keys_capture_once(payments: Payments) -> None:
    order_id = new_order_id()

    responses = await asyncio.gather(*(payments.charge(charge_body(order_id=order_id)) for _ in range(8)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, [r.text for r in responses]
    assert set(statuses) == {201, 409}
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["errors"][0]["field"] == "order_id"
    rows = await payments.charges_of(order_id)
    assert [row.status for row in rows] == ["captured"]


async def test_a_refunded_order_may_be_charged_again(payments: Payments) -> None:
    order_id = new_order_id()
    first = await payments.captured(order_id=order_id)
    refund = await payments.client.post(f"{API}/charges/{first['id']}/refund", headers=bearer(payments.service_token))
    assert refund.status_code == 200
    second = await payments.charge(charge_body(order_id=order_id))
    assert second.status_code == 201, second.text
    assert sorted(row.status for row in await payments.charges_of(order_id)) == ["captured", "refunded"]


async def test_openapi_documents_the_routes_the_key_and_the_test_cards(payments: Payments) -> None:
    response = await payments.client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    assert {f"{API}/charges", f"{API}/charges/{{charge_id}}", f"{API}/charges/{{charge_id}}/refund"} <= set(paths)
    create = paths[f"{API}/charges"]["post"]
    assert "4000 0000 0000 0002" in create["description"]
    assert "4000 0000 0000 0119" in create["description"]
    assert {"201", "400", "402", "409", "422", "502"} <= set(create["responses"])
    assert "Idempotency-Key" in {parameter["name"] for parameter in create["parameters"]}
    assert "order_id" in {parameter["name"] for parameter in paths[f"{API}/charges"]["get"]["parameters"]}


async def test_the_relay_publishes_the_payment_events(payments: Payments) -> None:
    """Events leave the outbox after the commit (the relay marks them published), within a deadline."""
    charge = await payments.captured()
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        async with payments.context.sessions() as session:
            rows = (
                await session.execute(
                    select(outbox.c.payload, outbox.c.published_at).where(outbox.c.type == PAYMENT_CAPTURED)
                )
            ).all()
        [published_at] = [row.published_at for row in rows if charge["id"] in row.payload]
        if published_at is not None:
            break
        assert asyncio.get_running_loop().time() < deadline, "the captured event was never published"
        await asyncio.sleep(0.05)  # polling interval, the deadline above bounds the wait
