"""The bad-input battery: every refusal is a 4xx problem naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import API, Shipping, address, shipment_body

JSON = {"content-type": "application/json"}


def quote_body(**overrides: Any) -> dict[str, Any]:
    return {
        "address": {"country": "US", "postal_code": "62701"},
        "items": [{"sku": "SKU-1", "quantity": 1}],
        **overrides,
    }


def with_address(**fields: Any) -> dict[str, Any]:
    return quote_body(address={"country": "US", "postal_code": "62701", **fields})


# shared by both routes: (id, body, field)
BODY_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("country-unknown", {"address": {"country": "XX", "postal_code": "1"}}, "body.address.country"),
    ("country-reserved-uk", {"address": {"country": "UK", "postal_code": "1"}}, "body.address.country"),
    ("country-lowercase", {"address": {"country": "us", "postal_code": "1"}}, "body.address.country"),
    ("country-alpha3", {"address": {"country": "USA", "postal_code": "1"}}, "body.address.country"),
    ("country-number", {"address": {"country": 840, "postal_code": "1"}}, "body.address.country"),
    ("country-missing", {"address": {"postal_code": "1"}}, "body.address.country"),
    ("postal-code-missing", {"address": {"country": "US"}}, "body.address.postal_code"),
    ("postal-code-symbols", {"address": {"country": "US", "postal_code": "<script>"}}, "body.address.postal_code"),
    ("postal-code-too-long", {"address": {"country": "US", "postal_code": "1" * 21}}, "body.address.postal_code"),
    ("address-extra-field", {"address": {"country": "US", "postal_code": "1", "floor": 3}}, "body.address.floor"),
    ("items-missing", {"items": None}, "body.items"),
    ("items-empty", {"items": []}, "body.items"),
    ("items-too-many", {"items": [{"sku": f"S{i}", "quantity": 1} for i in range(101)]}, "body.items"),
    ("quantity-zero", {"items": [{"sku": "S", "quantity": 0}]}, "body.items.0.quantity"),
    ("quantity-negative", {"items": [{"sku": "S", "quantity": -2}]}, "body.items.0.quantity"),
    ("quantity-too-big", {"items": [{"sku": "S", "quantity": 10_001}]}, "body.items.0.quantity"),
    ("quantity-string", {"items": [{"sku": "S", "quantity": "2"}]}, "body.items.0.quantity"),
    ("quantity-float", {"items": [{"sku": "S", "quantity": 1.5}]}, "body.items.0.quantity"),
    ("quantity-bool", {"items": [{"sku": "S", "quantity": True}]}, "body.items.0.quantity"),
    ("sku-empty", {"items": [{"sku": "", "quantity": 1}]}, "body.items.0.sku"),
    ("sku-injection", {"items": [{"sku": "X'; DROP TABLE shipments; --", "quantity": 1}]}, "body.items.0.sku"),
    ("sku-too-long", {"items": [{"sku": "S" * 65, "quantity": 1}]}, "body.items.0.sku"),
    ("item-extra-field", {"items": [{"sku": "S", "quantity": 1, "price": 5}]}, "body.items.0.price"),
    ("second-item-bad", {"items": [{"sku": "S", "quantity": 1}, {"sku": "T", "quantity": 0}]}, "body.items.1.quantity"),
]


def assert_refused(response: httpx.Response, status: int, field: str | None) -> None:
    """A problem+json answer with ``status`` that names ``field`` (when one is at fault)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status and "Traceback" not in response.text
    if field:
        assert field in [error["field"] for error in response.json()["errors"]], response.json()


def _drop_nones(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


QUOTE_CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    *((name, {"json": _drop_nones(quote_body(**body))}, 422, field) for name, body, field in BODY_CASES),
    ("city-nul", {"json": with_address(city="Spring\u0000field")}, 422, "body.address.city"),
    ("line1-newline", {"json": with_address(line1="1 Main St\nEvil: header")}, 422, "body.address.line1"),
    ("line1-blank", {"json": with_address(line1="   ")}, 422, "body.address.line1"),
    ("name-too-long", {"json": with_address(name="n" * 201)}, 422, "body.address.name"),
    ("currency-unknown", {"json": quote_body(currency="XYZ")}, 422, "body.currency"),
    ("currency-lowercase", {"json": quote_body(currency="eur")}, 422, "body.currency"),
    ("address-flat-string", {"json": quote_body(address="1 Main St, Springfield")}, 422, "body.address"),
    ("json-array", {"json": [quote_body()]}, 422, "body"),
    ("malformed-json", {"content": b'{"address": ', "headers": JSON}, 400, "body"),
    ("form", {"content": b"country=US", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415,
     "content-type"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_kwargs", "status", "field"), [c[1:] for c in QUOTE_CASES], ids=[c[0] for c in QUOTE_CASES]
)
async def test_bad_quote_is_refused(
    shipping: Shipping, request_kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    before = await shipping.state()
    assert_refused(await shipping.client.post(f"{API}/quote", **request_kwargs), status, field)
    assert await shipping.state() == before


def shipment_with(**overrides: Any) -> dict[str, Any]:
    return _drop_nones(shipment_body(**{"order_id": "bad-input-order", **overrides}))


SHIPMENT_CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    *(
        (name, {"json": shipment_with(**body)}, 422, field)
        for name, body, field in BODY_CASES
        if not name.startswith(("country-missing", "postal-code-missing", "address-extra"))
    ),
    ("line1-missing", {"json": shipment_with(address={k: v for k, v in address().items() if k != "line1"})}, 422,
     "body.address.line1"),
    ("city-missing", {"json": shipment_with(address={k: v for k, v in address().items() if k != "city"})}, 422,
     "body.address.city"),
    ("country-unknown-full-address", {"json": shipment_with(address=address(country="ZZ"))}, 422,
     "body.address.country"),
    ("order-id-missing", {"json": {k: v for k, v in shipment_with().items() if k != "order_id"}}, 422,
     "body.order_id"),
    ("order-id-empty", {"json": shipment_with(order_id="")}, 422, "body.order_id"),
    ("order-id-too-long", {"json": shipment_with(order_id="o" * 65)}, 422, "body.order_id"),
    ("order-id-spaces", {"json": shipment_with(order_id="order 1")}, 422, "body.order_id"),
    ("order-id-number", {"json": shipment_with(order_id=12345)}, 422, "body.order_id"),
    ("extra-field", {"json": shipment_with(status="delivered")}, 422, "body.status"),
    ("tracking-id-not-writable", {"json": shipment_with(tracking_id="AGRAAAAAAAAAAAA")}, 422, "body.tracking_id"),
    ("malformed-json", {"content": b'{"order_id": "x", ', "headers": JSON}, 400, "body"),
    ("empty-body", {"content": b"", "headers": JSON}, 422, "body"),
    ("xml", {"content": b"<shipment/>", "headers": {"content-type": "application/xml"}}, 415, "content-type"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_kwargs", "status", "field"), [c[1:] for c in SHIPMENT_CASES], ids=[c[0] for c in SHIPMENT_CASES]
)
async def test_bad_shipment_is_refused_and_writes_nothing(
    shipping: Shipping, request_kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    before = await shipping.state()
    kwargs = dict(request_kwargs)
    headers = {**shipping.headers("service"), **kwargs.pop("headers", {})}
    assert_refused(await shipping.client.post(f"{API}/shipments", headers=headers, **kwargs), status, field)
    assert await shipping.state() == before
    lookup = await shipping.client.get(
        f"{API}/shipments", params={"order_id": "bad-input-order"}, headers=shipping.headers("admin")
    )
    assert lookup.json()["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"order_id": "x" * 65}, "query.order_id"),
        ({"order_id": "a b"}, "query.order_id"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"cursor": "forged.cursor"}, "query.cursor"),
    ],
)
async def test_bad_list_parameters_are_refused(shipping: Shipping, params: dict[str, Any], field: str) -> None:
    response = await shipping.client.get(f"{API}/shipments", params=params, headers=shipping.headers("admin"))
    assert 400 <= response.status_code < 500, response.text
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
