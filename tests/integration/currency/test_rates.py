"""Listing currencies, converting, and an admin changing a rate (event, cache, authorization)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from agora.contracts.catalog import SUPPORTED_CURRENCIES
from agora.contracts.currency import RATE_UPDATED, Conversion, CurrencyList, RateUpdated
from agora.services.currency.seed import STARTING_RATES

from .conftest import API, Currency, bearer


async def convert(currency: Currency, amount: int, source: str, target: str) -> Conversion:
    response = await currency.client.get(f"{API}/convert", params={"amount": amount, "from": source, "to": target})
    assert response.status_code == 200, response.text
    return Conversion.model_validate(response.json())


async def test_currencies_lists_every_supported_code_with_exponent_and_exact_rate(currency: Currency) -> None:
    response = await currency.client.get(f"{API}/currencies")
    assert response.status_code == 200
    listing = CurrencyList.model_validate(response.json())
    by_code = {item.code: item for item in listing.items}
    assert set(by_code) == SUPPORTED_CURRENCIES
    assert (by_code["USD"].rate_per_usd, by_code["USD"].exponent) == ("1", 2)
    assert (by_code["JPY"].rate_per_usd, by_code["JPY"].exponent) == ("151.5", 0)
    assert by_code["EUR"].rate_per_usd == STARTING_RATES["EUR"][1]
    # conditional GET: the same document again is a 304 without a body
    again = await currency.client.get(f"{API}/currencies", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


async def test_the_seed_published_one_event_per_starting_rate(currency: Currency) -> None:
    seeded = [event for event in await currency.events(RATE_UPDATED) if event["data"]["updated_by"] == "seed"]
    assert sorted(event["data"]["code"] for event in seeded) == sorted(STARTING_RATES)
    assert all(event["data"]["previous_rate_per_usd"] is None for event in seeded)


@pytest.mark.parametrize(
    ("amount", "source", "target", "expected", "rate"),
    [
        (10_000, "USD", "EUR", 9_200, "0.92"),
        (100, "USD", "JPY", 152, "151.5"),  # 151.5 yen: a tie, to the even 152
        (300, "USD", "JPY", 454, "151.5"),  # 454.5 yen: a tie, to the even 454
        (15_150, "JPY", "USD", 10_000, "0.00660066006601"),
        (1, "JPY", "USD", 1, "0.00660066006601"),  # 0.66 cents
        (0, "EUR", "GBP", 0, "0.858695652174"),
        (12_345, "EUR", "EUR", 12_345, "1"),
        (10**15, "USD", "JPY", 1_515_000_000_000_000, "151.5"),
    ],
)
async def test_convert(currency: Currency, amount: int, source: str, target: str, expected: int, rate: str) -> None:
    conversion = await convert(currency, amount, source, target)
    assert conversion.from_.model_dump() == {"amount": amount, "currency": source}
    assert conversion.to.model_dump() == {"amount": expected, "currency": target}
    assert conversion.rate == rate


def conversions_counted(source: str, target: str) -> float:
    return REGISTRY.get_sample_value("agora_currency_conversions_total", {"from": source, "to": target}) or 0.0


async def test_conversions_are_counted_by_currency_pair(currency: Currency) -> None:
    before = conversions_counted("GBP", "SEK")
    await convert(currency, 500, "GBP", "SEK")
    await convert(currency, 700, "GBP", "SEK")
    assert conversions_counted("GBP", "SEK") == before + 2
    # a refused conversion is not a conversion
    await currency.client.get(f"{API}/convert", params={"amount": -1, "from": "GBP", "to": "SEK"})
    assert conversions_counted("GBP", "SEK") == before + 2


async def test_admin_sets_a_rate_publishes_it_and_conversions_use_it_at_once(
    currency: Currency, admin_token: str
) -> None:
    assert (await convert(currency, 10_000, "USD", "CHF")).to.amount == 8_800  # warms the read cache
    response = await currency.set_rate("CHF", "0.9125", admin_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["rate_per_usd"], body["exponent"], body["updated_by"]) == ("CHF", "0.9125", 2, "admin-1")

    # the cache was cleared after the commit: the next conversion uses the new rate
    assert (await convert(currency, 10_000, "USD", "CHF")).to.amount == 9_125
    listed = {item["code"]: item for item in (await currency.client.get(f"{API}/currencies")).json()["items"]}
    assert listed["CHF"]["rate_per_usd"] == "0.9125"

    event = (await currency.events(RATE_UPDATED))[-1]
    assert event["key"] == "CHF" and event["subject"] == "CHF" and event["source"] == "agora/currency"
    payload = RateUpdated.model_validate(event["data"])
    assert (payload.code, payload.rate_per_usd, payload.previous_rate_per_usd) == ("CHF", "0.9125", "0.88")
    assert payload.updated_by == "admin-1"


async def test_a_number_is_read_from_its_decimal_text_and_the_same_rate_again_changes_nothing(
    currency: Currency, admin_token: str
) -> None:
    response = await currency.set_rate("NOK", 10.1, admin_token)
    assert response.status_code == 200 and response.json()["rate_per_usd"] == "10.1"
    before = await currency.state()
    again = await currency.set_rate("NOK", "10.1000", admin_token)
    assert again.status_code == 200 and again.json()["rate_per_usd"] == "10.1"
    assert await currency.state() == before  # no write, no second event


async def test_usd_is_fixed_and_unknown_codes_are_refused(currency: Currency, admin_token: str) -> None:
    before = await currency.state()
    usd = await currency.set_rate("USD", "1.1", admin_token)
    assert usd.status_code == 409 and usd.headers["content-type"] == "application/problem+json"
    assert usd.json()["errors"][0]["field"] == "code"
    # the supported codes are an enum in the document: another one is invalid input, not a lookup
    unknown = await currency.set_rate("XAU", "0.0004", admin_token)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "path.code"
    assert await currency.state() == before


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("customer", 403), ("service", 403), ("support", 403)],
)
async def test_only_admins_set_rates(
    currency: Currency, token_factory: Callable[..., str], who: str, status: int
) -> None:
    before = await currency.state()
    headers = {} if who == "anonymous" else bearer(token_factory(roles=[who], subject=f"{who}-9"))
    response = await currency.client.put(f"{API}/rates/EUR", json={"rate_per_usd": "0.5"}, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await currency.state() == before
    assert (await convert(currency, 100, "USD", "EUR")).to.amount == 92


async def test_an_absurd_rate_makes_large_conversions_a_422_naming_amount(currency: Currency, admin_token: str) -> None:
    assert (await currency.set_rate("DKK", "9999999999.9999999999", admin_token)).status_code == 200
    try:
        response = await currency.client.get(f"{API}/convert", params={"amount": 10**15, "from": "USD", "to": "DKK"})
        assert response.status_code == 422, response.text
        assert [error["field"] for error in response.json()["errors"]] == ["query.amount"]
        # small amounts still convert
        assert (await convert(currency, 1, "USD", "DKK")).to.amount == 10_000_000_000
    finally:
        assert (await currency.set_rate("DKK", "6.87", admin_token)).status_code == 200


async def test_openapi_documents_the_rounding(currency: Currency) -> None:
    document = (await currency.client.get(f"{API}/openapi.json")).json()
    assert "ties to even" in document["paths"][f"{API}/convert"]["get"]["description"]
    assert {f"{API}/currencies", f"{API}/convert", f"{API}/rates/{{code}}"} <= set(document["paths"])
