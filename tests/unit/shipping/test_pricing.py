"""The rate card, the country list and tracking ids, without a database."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agora.contracts.shipping import COUNTRY_CODES
from agora.services.shipping.countries import DOMESTIC, EUROPE, NORTH_AMERICA, ZONES, zone_of
from agora.services.shipping.pricing import RATE_CARD, price
from agora.services.shipping.service import new_tracking_id


def test_the_country_list_is_the_249_assigned_codes() -> None:
    assert len(COUNTRY_CODES) == 249
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in COUNTRY_CODES)
    assert {"US", "DE", "JP", "BR", "AQ", "SS", "BQ"} <= COUNTRY_CODES
    # reserved or user-assigned, not countries
    assert not {"UK", "EU", "XK", "EL", "ZZ", "AA"} & COUNTRY_CODES


def test_zones() -> None:
    assert DOMESTIC | NORTH_AMERICA | EUROPE <= COUNTRY_CODES
    assert not (DOMESTIC & NORTH_AMERICA or DOMESTIC & EUROPE or NORTH_AMERICA & EUROPE)
    assert [zone_of(code) for code in ("US", "PR", "CA", "MX", "FR", "GB", "CH", "NO", "JP", "AU", "TR")] == [
        "domestic", "domestic", "north_america", "north_america", "europe", "europe", "europe", "europe",
        "rest_of_world", "rest_of_world", "rest_of_world",
    ]  # fmt: skip
    assert set(RATE_CARD) == set(ZONES)
    with pytest.raises(ValueError, match="ISO 3166"):
        zone_of("XX")


@pytest.mark.parametrize("zone", ZONES)
def test_first_unit_then_per_unit_then_the_cap(zone: str) -> None:
    rate = RATE_CARD[zone]  # type: ignore[index]
    country = {"domestic": "US", "north_america": "CA", "europe": "DE", "rest_of_world": "JP"}[zone]
    assert price(country, [1]).amount == rate.first_unit
    assert price(country, [1, 1]).amount == rate.first_unit + rate.per_extra_unit
    units_to_cap = -(-(rate.cap - rate.first_unit) // rate.per_extra_unit) + 1
    assert price(country, [units_to_cap - 1]).amount < rate.cap
    assert price(country, [units_to_cap]).amount == rate.cap
    assert price(country, [10_000] * 100).amount == rate.cap
    assert rate.first_unit < rate.cap


@given(country=st.sampled_from(sorted(COUNTRY_CODES)), units=st.integers(min_value=1, max_value=1_000_000))
def test_more_units_never_cost_less_and_lines_do_not_matter(country: str, units: int) -> None:
    one_line = price(country, [units])
    assert price(country, [units + 1]).amount >= one_line.amount
    split = [units // 2, units - units // 2] if units > 1 else [units]
    assert price(country, split) == one_line
    assert one_line.units == units and one_line.zone == zone_of(country)


def test_a_quote_needs_at_least_one_unit() -> None:
    with pytest.raises(ValueError, match="unit"):
        price("US", [])


def test_tracking_ids_are_random_base32_with_the_agora_prefix() -> None:
    ids = {new_tracking_id() for _ in range(2_000)}
    assert len(ids) == 2_000
    assert all(re.fullmatch(r"AGR[A-Z2-7]{12}", tracking_id) for tracking_id in ids)
    # not sequential: the characters after the prefix vary in every position
    assert all(len({tracking_id[i] for tracking_id in ids}) > 20 for i in range(3, 15))
