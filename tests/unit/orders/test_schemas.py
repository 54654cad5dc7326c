"""The checkout body: strict, and a card that cannot be charged is refused naming its field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from agora.services.orders.gateways import Card
from agora.services.orders.schemas import CheckoutIn, luhn_valid

NOW = datetime.now(UTC)


def body(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "currency": "EUR",
        "shipping_address": {"name": "Ada", "line1": "1 Way", "city": "Bonn", "postal_code": "53111", "country": "DE"},
        "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": NOW.year + 1, "cvc": "123"},
    }
    for path, value in changes.items():
        target = document
        *parents, last = path.split("__")
        for parent in parents:
            target = target[parent]
        target[last] = value
    return document


def field_of(error: ValidationError) -> str:
    return ".".join(str(part) for part in error.errors()[0]["loc"])


def test_a_good_body_normalises_the_card_number() -> None:
    checkout = CheckoutIn.model_validate(body())
    assert checkout.card.number == "4242424242424242"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "XXX"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"card__number": "4242424242424241"}, "card.number"),
        ({"card__number": "4242abcd42424242"}, "card.number"),
        ({"card__number": "42"}, "card.number"),
        ({"card__exp_month": 13}, "card.exp_month"),
        ({"card__exp_month": "12"}, "card.exp_month"),
        ({"card__exp_year": NOW.year - 1}, "card.exp_year"),
        ({"card__exp_year": NOW.year + 40}, "card.exp_year"),
        ({"card__cvc": "12"}, "card.cvc"),
        ({"card__cvc": 123}, "card.cvc"),
        ({"shipping_address__country": "Germany"}, "shipping_address.country"),
        ({"shipping_address__name": "   "}, "shipping_address.name"),
        ({"shipping_address__line1": "a\x00b"}, "shipping_address.line1"),
        ({"shipping_address__postal_code": ""}, "shipping_address.postal_code"),
        ({"shipping_address__extra": "x"}, "shipping_address.extra"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        CheckoutIn.model_validate(body(**changes))
    assert field_of(refused.value) == field


def test_this_month_is_not_expired_yet() -> None:
    CheckoutIn.model_validate(body(card__exp_year=NOW.year, card__exp_month=NOW.month))


@pytest.mark.parametrize("number", ["4242424242424242", "4000000000000002", "4000000000000119", "5555555555554444"])
def test_luhn_accepts_the_documented_test_cards(number: str) -> None:
    assert luhn_valid(number)


def test_a_card_never_shows_its_number_in_a_repr() -> None:
    assert "4242424242424242" not in repr(Card("4242424242424242", 12, 2099, "123"))
