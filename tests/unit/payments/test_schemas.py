"""The charge request model: strict, names the card field at fault, never echoes the card."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from agora.services.payments import schemas as payments_schemas
from agora.services.payments.schemas import MAX_AMOUNT, ChargeCreate

NEXT_YEAR = datetime.now(UTC).year + 1
NUMBER = "4242 4242 4242 4242"


def body(**card: Any) -> dict[str, Any]:
    return {
        "order_id": "order-1",
        "user_id": "user-1",
        "amount": {"amount": 1999, "currency": "USD"},
        "card": {"number": NUMBER, "exp_month": 12, "exp_year": NEXT_YEAR, "cvc": "123", **card},
    }


def fields_of(error: ValidationError) -> set[str]:
    return {".".join(str(part) for part in item["loc"]) for item in error.errors()}


def test_a_good_card_is_normalised() -> None:
    charge = ChargeCreate.model_validate(body())
    assert charge.card.number == "4242424242424242"
    assert charge.card.brand == "visa"
    assert charge.card.last4 == "4242"


def test_repr_and_str_leave_out_the_number_and_cvc() -> None:
    charge = ChargeCreate.model_validate(body(cvc="987"))
    for text in (repr(charge), str(charge), repr(charge.card)):
        assert "4242424242424242" not in text
        assert "987" not in text


@pytest.mark.parametrize(
    ("card", "field"),
    [
        ({"number": "4242424242424241"}, "card.number"),
        ({"number": "4242 4242 4242 424x"}, "card.number"),
        ({"number": "4242"}, "card.number"),
        ({"number": 4242424242424242}, "card.number"),  # a JSON number is not a card number
        ({"number": "4" * 40}, "card.number"),
        ({"exp_month": 13}, "card.exp_month"),
        ({"exp_month": 0}, "card.exp_month"),
        ({"exp_month": "12"}, "card.exp_month"),
        ({"exp_year": NEXT_YEAR - 2}, "card.exp_year"),
        ({"exp_year": NEXT_YEAR + 30}, "card.exp_year"),
        ({"cvc": "12"}, "card.cvc"),
        ({"cvc": "1234"}, "card.cvc"),  # visa: three digits
        ({"cvc": 123}, "card.cvc"),
        ({"number": "3782 822463 10005", "cvc": "123"}, "card.cvc"),  # amex: four digits
    ],
)
def test_each_bad_card_field_is_named(card: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        ChargeCreate.model_validate(body(**card))
    assert fields_of(error.value) == {field}
    text = str(error.value) + repr(error.value) + repr(error.value.errors(include_input=False))
    assert "4242424242424241" not in text
    assert "4242 4242 4242 424x" not in text


def test_this_years_past_month_names_the_month(monkeypatch: pytest.MonkeyPatch) -> None:
    # a fixed "today" in June: the test means the same in every month, January included
    monkeypatch.setattr(payments_schemas, "_today", lambda: date(2026, 6, 15))
    with pytest.raises(ValidationError) as error:
        ChargeCreate.model_validate(body(exp_month=5, exp_year=2026))
    assert fields_of(error.value) == {"card.exp_month"}


def test_amex_takes_four_digits() -> None:
    charge = ChargeCreate.model_validate(body(number="3782-822463-10005", cvc="1234"))
    assert charge.card.brand == "amex"


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        ({"amount": 0, "currency": "USD"}, "amount.amount"),
        ({"amount": -5, "currency": "USD"}, "amount.amount"),
        ({"amount": MAX_AMOUNT + 1, "currency": "USD"}, "amount.amount"),
        ({"amount": "10", "currency": "USD"}, "amount.amount"),
        ({"amount": 10, "currency": "usd"}, "amount.currency"),
        ({"amount": 10, "currency": "XXX"}, "amount.currency"),
        ({"amount": 10, "currency": "US"}, "amount.currency"),
    ],
)
def test_amount_bounds_and_currency(amount: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        ChargeCreate.model_validate({**body(), "amount": amount})
    assert fields_of(error.value) == {field}


@pytest.mark.parametrize("order_id", ["", "x" * 65, "has space", "../etc"])
def test_order_ids_are_bounded(order_id: str) -> None:
    with pytest.raises(ValidationError) as error:
        ChargeCreate.model_validate({**body(), "order_id": order_id})
    assert fields_of(error.value) == {"order_id"}


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as error:
        ChargeCreate.model_validate({**body(), "card": {**body()["card"], "holder": "A"}})
    assert fields_of(error.value) == {"card.holder"}
