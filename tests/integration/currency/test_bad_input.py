"""The bad-input battery: every refusal is a 4xx problem naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import API, Currency, bearer

CONVERT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("amount-missing", {"from": "USD", "to": "EUR"}, "query.amount"),
    ("amount-negative", {"amount": -1, "from": "USD", "to": "EUR"}, "query.amount"),
    ("amount-huge", {"amount": 10**15 + 1, "from": "USD", "to": "EUR"}, "query.amount"),
    ("amount-enormous", {"amount": "9" * 400, "from": "USD", "to": "EUR"}, "query.amount"),
    ("amount-fraction", {"amount": "10.5", "from": "USD", "to": "EUR"}, "query.amount"),
    ("amount-text", {"amount": "ten", "from": "USD", "to": "EUR"}, "query.amount"),
    ("from-missing", {"amount": 1, "to": "EUR"}, "query.from"),
    ("from-unsupported", {"amount": 1, "from": "ZZZ", "to": "EUR"}, "query.from"),
    ("from-lowercase", {"amount": 1, "from": "usd", "to": "EUR"}, "query.from"),
    ("from-too-long", {"amount": 1, "from": "USDX", "to": "EUR"}, "query.from"),
    ("from-injection", {"amount": 1, "from": "' OR 1=1 --", "to": "EUR"}, "query.from"),
    ("to-missing", {"amount": 1, "from": "USD"}, "query.to"),
    ("to-unsupported", {"amount": 1, "from": "USD", "to": "BTC"}, "query.to"),
    ("to-empty", {"amount": 1, "from": "USD", "to": ""}, "query.to"),
]


@pytest.mark.parametrize(("params", "field"), [c[1:] for c in CONVERT_CASES], ids=[c[0] for c in CONVERT_CASES])
async def test_bad_conversion_is_a_422_naming_the_field(currency: Currency, params: dict[str, Any], field: str) -> None:
    before = await currency.state()
    response = await currency.client.get(f"{API}/convert", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await currency.state() == before


JSON = {"content-type": "application/json"}

RATE_CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("zero", {"json": {"rate_per_usd": "0"}}, 422, "body.rate_per_usd"),
    ("negative", {"json": {"rate_per_usd": "-0.92"}}, 422, "body.rate_per_usd"),
    ("negative-number", {"json": {"rate_per_usd": -1}}, 422, "body.rate_per_usd"),
    ("nan", {"json": {"rate_per_usd": "NaN"}}, 422, "body.rate_per_usd"),
    ("infinity", {"json": {"rate_per_usd": "Infinity"}}, 422, "body.rate_per_usd"),
    ("eleven-decimals", {"json": {"rate_per_usd": "0.92000000001"}}, 422, "body.rate_per_usd"),
    ("binary-float-noise", {"json": {"rate_per_usd": 0.1 + 0.2}}, 422, "body.rate_per_usd"),
    ("too-many-digits", {"json": {"rate_per_usd": "12345678901.5"}}, 422, "body.rate_per_usd"),
    ("exponent-huge", {"json": {"rate_per_usd": "1e400"}}, 422, "body.rate_per_usd"),
    ("exponent-tiny", {"json": {"rate_per_usd": "1e-400"}}, 422, "body.rate_per_usd"),
    ("hex", {"json": {"rate_per_usd": "0x10"}}, 422, "body.rate_per_usd"),
    ("empty-string", {"json": {"rate_per_usd": ""}}, 422, "body.rate_per_usd"),
    ("boolean", {"json": {"rate_per_usd": True}}, 422, "body.rate_per_usd"),
    ("null", {"json": {"rate_per_usd": None}}, 422, "body.rate_per_usd"),
    ("object", {"json": {"rate_per_usd": {"value": "0.9"}}}, 422, "body.rate_per_usd"),
    ("missing", {"json": {}}, 422, "body.rate_per_usd"),
    ("extra-field", {"json": {"rate_per_usd": "0.5", "exponent": 3}}, 422, "body.exponent"),
    ("json-array", {"json": [{"rate_per_usd": "0.5"}]}, 422, "body"),
    ("malformed-json", {"content": b'{"rate_per_usd": ', "headers": JSON}, 400, "body"),
    ("huge-number", {"content": b'{"rate_per_usd": 1' + b"0" * 400 + b"}", "headers": JSON}, 422, None),
    (
        "form",
        {"content": b"rate_per_usd=0.5", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        415,
        "content-type",
    ),
]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "field"), [c[1:] for c in RATE_CASES], ids=[c[0] for c in RATE_CASES]
)
async def test_bad_rate_is_refused_and_changes_nothing(
    currency: Currency, admin_token: str, request_kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    before = await currency.state()
    kwargs = dict(request_kwargs)
    headers = {**bearer(admin_token), **kwargs.pop("headers", {})}
    response = await currency.client.put(f"{API}/rates/EUR", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status and "Traceback" not in response.text
    if field:
        assert field in [error["field"] for error in response.json()["errors"]]
    assert await currency.state() == before


@pytest.mark.parametrize("code", ["eur", "EURO", "E1R", "%00"])
async def test_malformed_code_in_the_path_is_a_422_naming_it(currency: Currency, admin_token: str, code: str) -> None:
    before = await currency.state()
    response = await currency.set_rate(code, "0.5", admin_token)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["path.code"]
    assert await currency.state() == before
