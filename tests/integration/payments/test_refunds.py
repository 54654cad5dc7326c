"""Refunds: full, once, idempotent under concurrency; a declined charge has nothing to refund."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

from prometheus_client import REGISTRY

from agora.contracts.payments import PAYMENT_REFUNDED, PaymentRefunded
from agora.services.payments.provider import ProviderError, SimulatedProvider
from tests.integration.payments.conftest import API, DECLINED, Payments, bearer, charge_body


async def test_a_captured_charge_is_refunded_once(payments: Payments) -> None:
    charge = await payments.captured(amount=1234)
    headers = bearer(payments.service_token)
    refunds_before = REGISTRY.get_sample_value("agora_payments_refunds_total", {"currency": "USD"}) or 0.0

    first = await payments.client.post(f"{API}/charges/{charge['id']}/refund", headers=headers)

    assert first.status_code == 200, first.text
    refunded = first.json()
    assert refunded["status"] == "refunded"
    assert refunded["refund"]["amount"] == {"amount": 1234, "currency": "USD"}
    assert (refunded["id"], refunded["card"]) == (charge["id"], charge["card"])
    [event] = [e for e in await payments.events(PAYMENT_REFUNDED) if e["subject"] == charge["id"]]
    data = PaymentRefunded.model_validate(event["data"])
    assert (data.refund_id, data.order_id, data.amount.amount) == (refunded["refund"]["id"], charge["order_id"], 1234)

    counts = await payments.counts()
    again = await payments.client.post(f"{API}/charges/{charge['id']}/refund", headers=headers)
    assert again.status_code == 200
    assert again.json() == refunded
    assert await payments.counts() == counts
    assert (REGISTRY.get_sample_value("agora_payments_refunds_total", {"currency": "USD"}) or 0) == refunds_before + 1

    read = await payments.client.get(f"{API}/charges/{charge['id']}", headers=headers)
    assert read.json() == refunded


async def test_concurrent_refunds_refund_once(payments: Payments) -> None:
    charge = await payments.captured()
    headers = bearer(payments.service_token)
    before = await payments.counts()

    responses = await asyncio.gather(
        *(payments.client.post(f"{API}/charges/{charge['id']}/refund", headers=headers) for _ in range(10))
    )

    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    assert len({r.json()["refund"]["id"] for r in responses}) == 1
    after = await payments.counts()
    assert after["refunds"] == before["refunds"] + 1
    assert after["outbox"] == before["outbox"] + 1


async def test_a_declined_charge_cannot_be_refunded(payments: Payments) -> None:
    declined = await payments.charge(charge_body(DECLINED))
    charge_id = declined.json()["charge_id"]
    before = await payments.counts()

    response = await payments.client.post(f"{API}/charges/{charge_id}/refund", headers=bearer(payments.service_token))

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await payments.counts() == before
    read = await payments.client.get(f"{API}/charges/{charge_id}", headers=bearer(payments.service_token))
    assert read.json()["status"] == "declined"


async def test_refunding_an_unknown_charge_is_a_404(payments: Payments, admin_token: str) -> None:
    before = await payments.counts()
    for charge_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = await payments.client.post(f"{API}/charges/{charge_id}/refund", headers=bearer(admin_token))
        assert response.status_code == 404
    assert await payments.counts() == before


class _RefundsFail(SimulatedProvider):
    """The provider port with refunds down (a fake of the card network, which we do not run)."""

    async def refund(self, reference: str, *, amount: int, currency: str) -> None:
        raise ProviderError("refunds are down")


async def test_a_provider_failure_during_a_refund_is_a_502_that_changes_nothing(payments: Payments) -> None:
    charge = await payments.captured()
    headers = bearer(payments.service_token)
    before = await payments.counts()
    running = payments.context.runtime
    payments.context.runtime = dataclasses.replace(running, provider=_RefundsFail())
    try:
        response = await payments.client.post(f"{API}/charges/{charge['id']}/refund", headers=headers)
    finally:
        payments.context.runtime = running

    assert response.status_code == 502, response.text
    assert response.json()["reason"] == "provider_error"
    assert await payments.counts() == before
    read = await payments.client.get(f"{API}/charges/{charge['id']}", headers=headers)
    assert read.json()["status"] == "captured"

    retried = await payments.client.post(f"{API}/charges/{charge['id']}/refund", headers=headers)
    assert retried.status_code == 200
    assert retried.json()["status"] == "refunded"
