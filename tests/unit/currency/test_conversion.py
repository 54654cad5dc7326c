"""The pure conversion: exact decimal arithmetic, one half-to-even rounding, bounded errors."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agora.contracts.catalog import SUPPORTED_CURRENCIES
from agora.services.currency.conversion import (
    MAX_AMOUNT,
    MAX_RESULT,
    ConversionOverflowError,
    canonical,
    convert_minor,
    cross_rate,
)
from agora.services.currency.seed import STARTING_RATES

USD = (Decimal(1), 2)
JPY = (Decimal("151.5"), 0)
EUR = (Decimal("0.92"), 2)


def convert(amount: int, source: tuple[Decimal, int], target: tuple[Decimal, int]) -> int:
    return convert_minor(amount, rate_from=source[0], exponent_from=source[1], rate_to=target[0], exponent_to=target[1])


@pytest.mark.parametrize(
    ("amount", "rate_to", "expected"),
    [
        (1, "0.5", 0),  # 0.5 cent: tie, to the even 0
        (3, "0.5", 2),  # 1.5 cents: tie, to the even 2
        (5, "0.5", 2),  # 2.5 cents: tie, to the even 2 (half-up would say 3)
        (7, "0.5", 4),  # 3.5 cents: tie, to the even 4
        (1, "0.4999999999", 0),  # just below a tie: down
        (1, "0.5000000001", 1),  # just above a tie: up
        (3, "0.4999999999", 1),
        (3, "0.5000000001", 2),
        (2, "1.25", 2),  # 2.5 cents: tie, down to 2
        (6, "1.25", 8),  # 7.5 cents: tie, up to 8
    ],
)
def test_half_cents_round_to_even_both_ways(amount: int, rate_to: str, expected: int) -> None:
    assert convert(amount, USD, (Decimal(rate_to), 2)) == expected


def test_yen_have_no_minor_unit() -> None:
    assert convert(100, USD, JPY) == 152  # 151.5 yen: tie, to the even 152
    assert convert(300, USD, JPY) == 454  # 454.5 yen: tie, to the even 454
    assert convert(15_150, JPY, USD) == 10_000
    assert convert(1, JPY, USD) == 1  # 0.66 cents
    assert convert(75, JPY, USD) == 50  # 49.505 cents: just above the half, up
    assert convert(76, JPY, USD) == 50  # 50.16...
    assert convert(1, JPY, (Decimal("0.5"), 2)) == 0  # 0.33 cents


def test_zero_and_identity() -> None:
    assert convert(0, USD, JPY) == 0
    assert convert(0, JPY, EUR) == 0
    assert convert(123_456_789, EUR, EUR) == 123_456_789
    assert convert(MAX_AMOUNT, JPY, JPY) == MAX_AMOUNT


def test_large_amounts_are_exact() -> None:
    # 10**15 cents at 0.92: no float could hold 9.2e14 + a fraction exactly
    assert convert(MAX_AMOUNT, USD, EUR) == 920_000_000_000_000
    assert convert(MAX_AMOUNT - 1, USD, EUR) == 919_999_999_999_999  # ...999.08
    assert convert(MAX_AMOUNT, USD, JPY) == 1_515_000_000_000_000
    assert convert(MAX_AMOUNT, JPY, USD) == 660_066_006_600_660  # 660066006600660.066...
    # the most extreme rates allowed still compute exactly
    tiny, huge = (Decimal("0.0000000001"), 2), (Decimal("1234567.8912345678"), 0)
    assert convert(3, tiny, huge) == 370_370_367_370_370  # 370370367370370.34 yen-like units
    assert convert(MAX_AMOUNT, huge, tiny) == round(exact(MAX_AMOUNT, huge, tiny))


def test_results_beyond_a_64_bit_integer_are_refused() -> None:
    with pytest.raises(ConversionOverflowError):
        convert(MAX_AMOUNT, USD, (Decimal("9999999999.9999999999"), 2))
    assert convert(MAX_RESULT // 100, (Decimal(1), 0), (Decimal(1), 2)) <= MAX_RESULT


def test_negative_amounts_and_non_positive_rates_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="amount"):
        convert(-1, USD, EUR)
    with pytest.raises(ValueError, match="rates"):
        convert(1, (Decimal(0), 2), EUR)


def exact(amount: int, source: tuple[Decimal, int], target: tuple[Decimal, int]) -> Fraction:
    """The true converted value in target minor units, as an exact rational."""
    return Fraction(amount) * Fraction(target[0]) * 10 ** target[1] / (Fraction(source[0]) * 10 ** source[1])


rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4, allow_nan=False)
exponents = st.sampled_from([0, 2, 3])
amounts = st.integers(min_value=0, max_value=MAX_AMOUNT)


@given(amount=amounts, rate_from=rates, rate_to=rates, exp_from=exponents, exp_to=exponents)
def test_within_half_a_minor_unit_of_the_exact_value_and_ties_go_to_even(
    amount: int, rate_from: Decimal, rate_to: Decimal, exp_from: int, exp_to: int
) -> None:
    source, target = (rate_from, exp_from), (rate_to, exp_to)
    try:
        result = convert(amount, source, target)
    except ConversionOverflowError:
        assert exact(amount, source, target) > MAX_RESULT
        return
    error = abs(Fraction(result) - exact(amount, source, target))
    assert error <= Fraction(1, 2)
    if error == Fraction(1, 2):
        assert result % 2 == 0


@given(amount=st.integers(min_value=0, max_value=10**12), code=st.sampled_from(sorted(STARTING_RATES)))
def test_round_trip_through_usd_loses_at_most_what_two_roundings_allow(amount: int, code: str) -> None:
    exponent, rate_text = STARTING_RATES[code]
    other = (Decimal(rate_text), exponent)
    back = convert(convert(amount, USD, other), other, USD)
    # half a minor unit of the other currency, seen in cents, plus half a cent
    bound = Fraction(1, 2) * exact(1, other, USD) + Fraction(1, 2)
    assert abs(back - amount) <= bound


def test_cross_rate_and_canonical_text() -> None:
    assert canonical(cross_rate(Decimal("1"), Decimal("0.92"))) == "0.92"
    assert canonical(cross_rate(Decimal("0.92"), Decimal("1"))) == "1.08695652174"
    assert canonical(Decimal("100")) == "100"
    assert canonical(Decimal("1E+2")) == "100"
    assert canonical(Decimal("0.9200")) == "0.92"
    assert canonical(Decimal("0.0000000001")) == "0.0000000001"


def test_every_catalog_currency_has_a_starting_rate_with_its_iso_exponent() -> None:
    assert set(STARTING_RATES) == SUPPORTED_CURRENCIES
    assert STARTING_RATES["USD"] == (2, "1")
    assert {code for code, (exponent, _) in STARTING_RATES.items() if exponent == 0} == {"JPY"}
    assert all(Decimal(rate) > 0 for _, rate in STARTING_RATES.values())
