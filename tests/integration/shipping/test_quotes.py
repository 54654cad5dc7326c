"""Quotes: priced by zone and units, always USD, public, counted per zone."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from agora.contracts.shipping import Quote

from .conftest import API, Shipping


def quote_body(country: str = "US", quantities: tuple[int, ...] = (1,), **extra: Any) -> dict[str, Any]:
    items = [{"sku": f"SKU-{i}", "quantity": quantity} for i, quantity in enumerate(quantities)]
    return {"address": {"country": country, "postal_code": "12345"}, "items": items, **extra}


async def quote(shipping: Shipping, body: dict[str, Any]) -> Quote:
    response = await shipping.client.post(f"{API}/quote", json=body)
    assert response.status_code == 200, response.text
    return Quote.model_validate(response.json())


@pytest.mark.parametrize(
    ("country", "quantities", "zone", "amount", "days"),
    [
        ("US", (1,), "domestic", 499, 3),
        ("US", (2, 1), "domestic", 499 + 2 * 99, 3),
        ("PR", (1,), "domestic", 499, 3),
        ("CA", (1,), "north_america", 999, 6),
        ("MX", (3,), "north_america", 999 + 2 * 199, 6),
        ("DE", (1,), "europe", 1_499, 8),
        ("GB", (1, 1), "europe", 1_499 + 299, 8),
        ("JP", (1,), "rest_of_world", 2_499, 12),
        ("BR", (5,), "rest_of_world", 2_499 + 4 * 399, 12),
        ("US", (10_000,) * 100, "domestic", 2_999, 3),  # a million units: the cap
        ("AQ", (10_000,), "rest_of_world", 14_999, 12),
    ],
)
async def test_quote_by_zone_and_units(
    shipping: Shipping, country: str, quantities: tuple[int, ...], zone: str, amount: int, days: int
) -> None:
    result = await quote(shipping, quote_body(country, quantities))
    assert result.zone == zone
    assert result.cost.model_dump() == {"amount": amount, "currency": "USD"}
    assert (result.service_level, result.estimated_days, result.item_count) == ("standard", days, sum(quantities))


async def test_quotes_are_usd_whatever_currency_is_asked_for(shipping: Shipping) -> None:
    plain = await quote(shipping, quote_body("FR", (2,)))
    in_yen = await quote(shipping, quote_body("FR", (2,), currency="JPY"))
    assert in_yen == plain and in_yen.cost.currency == "USD"


async def test_quotes_are_public_and_write_nothing(shipping: Shipping) -> None:
    before = await shipping.state()
    response = await shipping.client.post(f"{API}/quote", json=quote_body("US", (1,)))
    assert response.status_code == 200
    assert await shipping.state() == before


def quotes_counted(zone: str) -> float:
    return REGISTRY.get_sample_value("agora_shipping_quotes_total", {"zone": zone}) or 0.0


async def test_quotes_are_counted_per_zone(shipping: Shipping) -> None:
    before = {zone: quotes_counted(zone) for zone in ("europe", "north_america")}
    await quote(shipping, quote_body("IT"))
    await quote(shipping, quote_body("ES"))
    await quote(shipping, quote_body("CA"))
    await shipping.client.post(f"{API}/quote", json=quote_body("XX"))  # refused: not counted
    assert quotes_counted("europe") == before["europe"] + 2
    assert quotes_counted("north_america") == before["north_america"] + 1
