"""Card rules as pure functions: Luhn, brands from the IIN, expiry, CVC length."""

from __future__ import annotations

from datetime import date

import pytest

from agora.services.payments import cards
from agora.services.payments.cards import CardError

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(
    "raw",
    ["4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", " 4242 4242-4242 4242 "],
)
def test_spaces_and_dashes_are_removed(raw: str) -> None:
    assert cards.normalize_number(raw) == "4242424242424242"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("4242 4242 4242 424x", "digits"),
        ("\uff14\uff12" * 8, "digits"),  # full-width digits: str.isdigit says yes, a card network no
        ("4242.4242.4242.4242", "digits"),
        ("", "digits"),
        ("42424242424", "12 to 19"),  # 11 digits
        ("4" * 20, "12 to 19"),
        ("4242424242424241", "checksum"),
    ],
)
def test_bad_numbers_name_the_number(raw: str, why: str) -> None:
    with pytest.raises(CardError) as error:
        cards.normalize_number(raw)
    assert error.value.field == "number"
    assert why in error.value.message
    if raw.strip():
        assert raw not in str(error.value)


def test_luhn() -> None:
    assert cards.luhn_valid("79927398713")
    assert not cards.luhn_valid("79927398710")
    for number in ("4242424242424242", "4000000000000002", "4000000000000119", "378282246310005", "5555555555554444"):
        assert cards.luhn_valid(number), number


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("2720990000000007", "mastercard"),
        ("378282246310005", "amex"),
        ("341111111111111", "amex"),
        ("6011111111111117", "discover"),
        ("6445644564456445", "discover"),
        ("6500000000000002", "discover"),
        ("6221260000000000", "discover"),
        ("3530111333300000", "other"),  # JCB
        ("2721000000000004", "other"),  # just past the mastercard 2-series
        ("5011000000000000", "other"),
    ],
)
def test_brand_from_the_iin(number: str, brand: str) -> None:
    assert cards.brand_of(number) == brand


def test_expiry_is_good_through_the_end_of_the_month() -> None:
    cards.check_expiry(11, 2026, TODAY)  # this month: still good
    cards.check_expiry(1, 2027, TODAY)
    cards.check_expiry(12, 2046, TODAY)


@pytest.mark.parametrize(
    ("month", "year", "field"),
    [
        (10, 2026, "exp_month"),  # last month
        (12, 2025, "exp_year"),  # last year
        (1, 2047, "exp_year"),  # more than 20 years ahead
        (0, 2027, "exp_month"),
        (13, 2027, "exp_month"),
    ],
)
def test_bad_expiry_names_the_field(month: int, year: int, field: str) -> None:
    with pytest.raises(CardError) as error:
        cards.check_expiry(month, year, TODAY)
    assert error.value.field == field


def test_cvc_length_depends_on_the_brand() -> None:
    assert cards.check_cvc("123", "visa") == "123"
    assert cards.check_cvc("1234", "amex") == "1234"
    assert cards.check_cvc("1234", None) == "1234"  # the number was bad: either length passes here
    for cvc, brand in (("1234", "visa"), ("123", "amex"), ("12", "mastercard"), ("12a", "visa"), ("١٢٣", "visa")):
        with pytest.raises(CardError) as error:
            cards.check_cvc(cvc, brand)  # type: ignore[arg-type]
        assert error.value.field == "cvc"
        assert cvc not in str(error.value)


def test_last4() -> None:
    assert cards.last4("4242424242424242") == "4242"
