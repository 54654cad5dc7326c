"""Refusals: malformed cards, missing or misused keys, wrong callers; each changes nothing, and no
card number or CVC ever reaches the database or the logs."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text

from agora.platform.idempotency import idempotency_keys
from agora.platform.messaging import outbox
from agora.services.payments.models import Charge, Refund
from tests.integration.payments.conftest import (
    API,
    DECLINED,
    NEXT_YEAR,
    PROVIDER_ERROR,
    Payments,
    bearer,
    card,
    charge_body,
)

CARD_BATTERY: list[tuple[dict[str, Any], str]] = [
    ({"number": "4242 4242 4242 4241"}, "card.number"),  # Luhn
    ({"number": "4242 4242 4242 424x"}, "card.number"),
    ({"number": "4242 4242"}, "card.number"),
    ({"number": "4" * 25}, "card.number"),
    ({"number": 4242424242424242}, "card.number"),
    ({"number": None}, "card.number"),
    ({"exp_month": 13}, "card.exp_month"),
    ({"exp_month": 0}, "card.exp_month"),
    ({"exp_month": "12"}, "card.exp_month"),
    ({"exp_year": NEXT_YEAR - 3}, "card.exp_year"),
    ({"exp_year": NEXT_YEAR + 50}, "card.exp_year"),
    ({"exp_year": True}, "card.exp_year"),
    ({"cvc": "12"}, "card.cvc"),
    ({"cvc": "1234"}, "card.cvc"),
    ({"cvc": "12a"}, "card.cvc"),
    ({"cvc": 123}, "card.cvc"),
    ({"number": "3782 822463 10005", "cvc": "123"}, "card.cvc"),
]


@pytest.mark.parametrize(("fields", "field"), CARD_BATTERY)
async def test_a_malformed_card_is_a_422_naming_the_field(
    payments: Payments, fields: dict[str, Any], field: str
) -> None:
    before = await payments.counts()
    body = charge_body()
    body["card"] = {**card(), **fields}

    response = await payments.charge(body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {error["field"] for error in response.json()["errors"]} == {f"body.{field}"}
    if isinstance(fields.get("number"), str):
        assert fields["number"] not in response.text
        assert fields["number"].replace(" ", "") not in response.text
    assert await payments.counts() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": {"amount": 0, "currency": "USD"}}, "body.amount.amount"),
        ({"amount": {"amount": 10**12, "currency": "USD"}}, "body.amount.amount"),
        ({"amount": {"amount": 100, "currency": "ZZZ"}}, "body.amount.currency"),
        ({"amount": {"amount": 100}}, "body.amount.currency"),
        ({"order_id": ""}, "body.order_id"),
        ({"order_id": "o" * 65}, "body.order_id"),
        ({"user_id": None}, "body.user_id"),
        ({"card": None}, "body.card"),
        ({"extra": 1}, "body.extra"),
    ],
)
async def test_a_bad_charge_body_is_a_422_naming_the_field(
    payments: Payments, change: dict[str, Any], field: str
) -> None:
    before = await payments.counts()
    response = await payments.charge({**charge_body(), **change})
    assert response.status_code == 422, response.text
    assert field in {error["field"] for error in response.json()["errors"]}
    assert await payments.counts() == before


@pytest.mark.parametrize("key", [None, "", "   ", "k" * 256, "schlüssel".encode(), "a b"])
async def test_a_missing_or_malformed_key_is_a_400_naming_the_header(
    payments: Payments, key: str | bytes | None
) -> None:
    before = await payments.counts()
    headers: dict[str, Any] = bearer(payments.service_token)
    if key is not None:
        headers["Idempotency-Key"] = key
    response = await payments.client.post(f"{API}/charges", json=charge_body(), headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await payments.counts() == before


async def test_malformed_json_and_other_media_types_are_refused(payments: Payments) -> None:
    before = await payments.counts()
    headers = bearer(payments.service_token, str(uuid.uuid4()))
    broken = await payments.client.post(
        f"{API}/charges", content=b'{"order_id": ', headers={**headers, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    form = await payments.client.post(f"{API}/charges", data={"order_id": "x"}, headers=headers)
    assert form.status_code == 415
    assert await payments.counts() == before


async def test_customers_and_anonymous_callers_are_refused(payments: Payments, customer_token: str) -> None:
    charge = await payments.captured()
    before = await payments.counts()
    routes = [
        ("POST", f"{API}/charges", charge_body()),
        ("POST", f"{API}/charges/{charge['id']}/refund", None),
        ("GET", f"{API}/charges/{charge['id']}", None),
        ("GET", f"{API}/charges?order_id={charge['order_id']}", None),
    ]
    for method, url, body in routes:
        as_customer = await payments.client.request(
            method, url, json=body, headers=bearer(customer_token, str(uuid.uuid4()))
        )
        assert as_customer.status_code == 403, (url, as_customer.text)
        anonymous = await payments.client.request(method, url, json=body, headers={"Idempotency-Key": "k-1"})
        assert anonymous.status_code == 401, (url, anonymous.text)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        forged = await payments.client.request(
            method, url, json=body, headers=bearer(payments.service_token + "x", "k-2")
        )
        assert forged.status_code == 401
    assert await payments.counts() == before


# a valid (Luhn) card number that no other test uses, so finding it anywhere means it leaked
SECRET_NUMBER = "5105 1051 0510 5100"
SECRET_CVC = "739"


def _leaks(haystack: str, numbers: list[str], cvc: str) -> list[str]:
    """What leaked, each with the text around it (so a failure shows where).

    Values are matched as tokens of their own: a float in a log line (``1.4000000000000002``), a
    uuid or a timestamp may contain the same digits without being a card number or a CVC.
    """
    patterns = [re.escape(form) for number in numbers for form in (number, number.replace(" ", ""))]
    patterns.append(re.escape(cvc))
    found = []
    for pattern in patterns:
        match = re.search(rf"(?<![0-9A-Za-z.]){pattern}(?![0-9A-Za-z])", haystack)
        if match:
            found.append(haystack[max(0, match.start() - 300) : match.end() + 100])
    return found


def test_the_leak_detector_finds_tokens_and_ignores_digits_inside_other_values() -> None:
    assert _leaks('{"card": "4000000000000002"}', ["4000 0000 0000 0002"], "739")
    assert _leaks("number=4000 0000 0000 0002;", ["4000 0000 0000 0002"], "739")
    assert _leaks('"cvc": "739"', [], "739")
    assert not _leaks('{"duration_ms": 1.4000000000000002, "id": "a739f0"}', ["4000 0000 0000 0002"], "739")


async def test_no_card_number_or_cvc_reaches_the_database_or_the_logs(
    payments: Payments, capfd: pytest.CaptureFixture[str]
) -> None:
    numbers = [SECRET_NUMBER, DECLINED, PROVIDER_ERROR]
    capfd.readouterr()
    captured = await payments.charge(charge_body(SECRET_NUMBER, cvc=SECRET_CVC))
    assert captured.status_code == 201
    key = str(uuid.uuid4())
    for body in (charge_body(DECLINED, cvc=SECRET_CVC), charge_body(PROVIDER_ERROR, cvc=SECRET_CVC)):
        await payments.charge(body, key=key)
        key = str(uuid.uuid4())
    await payments.charge(charge_body(SECRET_NUMBER, cvc=SECRET_CVC, exp_month=13))  # a 422
    await payments.charge(charge_body("5105 1051 0510 5101", cvc=SECRET_CVC))  # Luhn fails: a 422
    await payments.client.post(f"{API}/charges/{captured.json()['id']}/refund", headers=bearer(payments.service_token))

    logs = capfd.readouterr()
    log_text = logs.out + logs.err
    assert f"{API}/charges" in log_text  # the capture did see the access log
    assert "charge_recorded" in log_text
    assert _leaks(log_text, [*numbers, "5105 1051 0510 5101"], SECRET_CVC) == []

    async with payments.context.sessions() as session:
        dumped = []
        for table in (Charge.__table__, Refund.__table__, outbox, idempotency_keys):
            dumped += [repr(tuple(row)) for row in (await session.execute(select(table))).all()]
        for name in ("inbox", "dead_letters"):
            dumped += [repr(tuple(row)) for row in (await session.execute(text(f"SELECT * FROM {name}"))).all()]
    database_text = "\n".join(dumped)
    assert "5100" in database_text  # the last four digits are kept, so the dump is the real one
    assert _leaks(database_text, numbers, SECRET_CVC) == []
    assert '"cvc"' not in database_text and '"number"' not in database_text
