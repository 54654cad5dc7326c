"""The bad-input battery: every refusal is a 4xx problem naming the field, and no cart changed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agora.contracts.cart import CART_COOKIE, CART_ID_HEADER

from .conftest import API, CartApp, bearer

JSON = {"content-type": "application/json"}
PRODUCT = "00000000-0000-4000-8000-000000000000"  # replaced by a real product id per test
UPPER = "ffffffff-ffff-4fff-bfff-ffffffffffff"  # replaced by the same id in upper case

# (id, method, path, request kwargs, status, field); PRODUCT in a body or path is a real product
CASES: list[tuple[str, str, str, dict[str, Any], int, str | None]] = [
    ("malformed-json", "POST", "/items", {"content": b'{"product_id": ', "headers": JSON}, 400, "body"),
    ("json-array", "POST", "/items", {"json": [{"product_id": PRODUCT}]}, 422, "body"),
    ("empty-body", "POST", "/items", {"content": b"", "headers": JSON}, 422, "body"),
    ("not-utf8", "POST", "/items", {"content": b'{"product_id": "\xff\xfe"}', "headers": JSON}, 400, None),
    (
        "form-content-type",
        "POST",
        "/items",
        {"content": b"product_id=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        415,
        "content-type",
    ),
    ("product-id-missing", "POST", "/items", {"json": {"quantity": 1}}, 422, "body.product_id"),
    ("product-id-not-uuid", "POST", "/items", {"json": {"product_id": "shoe-1"}}, 422, "body.product_id"),
    ("product-id-sql", "POST", "/items", {"json": {"product_id": "' OR 1=1 --"}}, 422, "body.product_id"),
    ("product-id-number", "POST", "/items", {"json": {"product_id": 12}}, 422, "body.product_id"),
    ("product-id-upper", "POST", "/items", {"json": {"product_id": UPPER}}, 422, "body.product_id"),
    ("product-id-long", "POST", "/items", {"json": {"product_id": "a" * 5000}}, 422, "body.product_id"),
    ("product-unknown", "POST", "/items", {"json": {"product_id": str(uuid.UUID(int=7))}}, 422, "product_id"),
    ("quantity-zero", "POST", "/items", {"json": {"product_id": PRODUCT, "quantity": 0}}, 422, "body.quantity"),
    ("quantity-negative", "POST", "/items", {"json": {"product_id": PRODUCT, "quantity": -3}}, 422, "body.quantity"),
    ("quantity-string", "POST", "/items", {"json": {"product_id": PRODUCT, "quantity": "2"}}, 422, "body.quantity"),
    ("quantity-float", "POST", "/items", {"json": {"product_id": PRODUCT, "quantity": 1.5}}, 422, "body.quantity"),
    ("quantity-bool", "POST", "/items", {"json": {"product_id": PRODUCT, "quantity": True}}, 422, "body.quantity"),
    ("quantity-null", "POST", "/items", {"json": {"product_id": PRODUCT, "quantity": None}}, 422, "body.quantity"),
    ("quantity-huge", "POST", "/items", {"json": {"product_id": PRODUCT, "quantity": 10**30}}, 422, "body.quantity"),
    ("quantity-over-bound", "POST", "/items", {"json": {"product_id": PRODUCT, "quantity": 100}}, 422, "quantity"),
    ("extra-field", "POST", "/items", {"json": {"product_id": PRODUCT, "price": 1}}, 422, "body.price"),
    ("put-path-not-uuid", "PUT", "/items/not-a-product", {"json": {"quantity": 1}}, 422, "path.product_id"),
    ("put-quantity-zero", "PUT", f"/items/{PRODUCT}", {"json": {"quantity": 0}}, 422, "body.quantity"),
    ("put-quantity-missing", "PUT", f"/items/{PRODUCT}", {"json": {}}, 422, "body.quantity"),
    ("put-over-bound", "PUT", f"/items/{PRODUCT}", {"json": {"quantity": 100}}, 422, "quantity"),
    ("put-unknown-product", "PUT", f"/items/{uuid.UUID(int=9)}", {"json": {"quantity": 1}}, 404, "product_id"),
    ("delete-path-not-uuid", "DELETE", "/items/not%20a%20uuid", {}, 422, "path.product_id"),
    ("delete-path-traversal", "DELETE", "/items/..%2F..%2Fetc", {}, 404, None),
    ("delete-not-in-cart", "DELETE", f"/items/{uuid.UUID(int=11)}", {}, 404, "product_id"),
    ("merge-not-uuid", "POST", "/merge", {"json": {"cart_id": "mine"}}, 422, "body.cart_id"),
    ("merge-missing", "POST", "/merge", {"json": {}}, 422, "body.cart_id"),
]


@pytest.fixture
async def product(cart_app: CartApp) -> str:
    (product_id,) = await cart_app.product_ids(1)
    return product_id


def _with_product(value: Any, product: str) -> Any:
    if isinstance(value, str):
        return value.replace(PRODUCT, product).replace(UPPER, product.upper())
    if isinstance(value, dict):
        return {key: _with_product(item, product) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_product(item, product) for item in value]
    return value


def _assert_problem(response: Any, status: int, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and "Traceback" not in response.text
    if field:
        assert field in [error["field"] for error in problem["errors"]], problem


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "status", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_is_refused_and_changes_nothing(
    cart_app: CartApp,
    user_token: str,
    product: str,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    auth = bearer(user_token)
    # the user's cart is not empty, so "nothing changed" covers an existing line too
    seeded = await cart_app.client.post(f"{API}/items", json={"product_id": product, "quantity": 5}, headers=auth)
    assert seeded.status_code == 200, seeded.text
    before = await cart_app.snapshot()
    kwargs = _with_product(dict(request_kwargs), product)
    headers = {**auth, **kwargs.pop("headers", {})}
    response = await cart_app.client.request(method, f"{API}{_with_product(path, product)}", headers=headers, **kwargs)
    _assert_problem(response, status, field)
    assert await cart_app.snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/items", {"quantity": 0}), ("POST", "/items", {"product_id": "x"}), ("PUT", "/items/x", {})],
    ids=["quantity", "product", "path"],
)
async def test_anonymous_bad_input_mints_no_cart(
    cart_app: CartApp, product: str, method: str, path: str, body: dict[str, Any]
) -> None:
    before = await cart_app.snapshot()
    response = await cart_app.client.request(method, f"{API}{path}", json={"product_id": product, **body})
    assert response.status_code == 422, response.text
    assert "set-cookie" not in response.headers
    assert await cart_app.snapshot() == before


@pytest.mark.parametrize(
    "value",
    ["not-a-uuid", "00000000-0000-4000-8000-00000000000", "' OR 1=1", "x" * 200, "{" + str(uuid.UUID(int=1)) + "}"],
)
async def test_malformed_cart_id_header_is_a_400(cart_app: CartApp, product: str, value: str) -> None:
    before = await cart_app.snapshot()
    for method, path, body in (("GET", "", None), ("POST", "/items", {"product_id": product})):
        response = await cart_app.client.request(method, f"{API}{path}", json=body, headers={CART_ID_HEADER: value})
        _assert_problem(response, 400, CART_ID_HEADER)
    assert await cart_app.snapshot() == before


async def test_malformed_cart_cookie_is_a_400_that_clears_it(cart_app: CartApp, product: str) -> None:
    before = await cart_app.snapshot()
    response = await cart_app.client.post(
        f"{API}/items", json={"product_id": product}, headers={"cookie": f"{CART_COOKIE}=garbage"}
    )
    _assert_problem(response, 400, CART_COOKIE)
    cleared = response.headers["set-cookie"]
    assert cleared.startswith(f"{CART_COOKIE}=") and "Max-Age=0" in cleared
    assert await cart_app.snapshot() == before


async def test_oversized_body_is_refused(cart_app: CartApp, user_token: str, product: str) -> None:
    before = await cart_app.snapshot()
    body = b'{"product_id": "' + product.encode() + b'", "pad": "' + b"x" * 2_000_000 + b'"}'
    response = await cart_app.client.post(f"{API}/items", content=body, headers={**bearer(user_token), **JSON})
    assert response.status_code == 413, response.text
    assert await cart_app.snapshot() == before


async def test_bad_tokens_are_refused(cart_app: CartApp, product: str) -> None:
    before = await cart_app.snapshot()
    for header in ("Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer "):
        response = await cart_app.client.post(
            f"{API}/items", json={"product_id": product}, headers={"Authorization": header}
        )
        _assert_problem(response, 401, None)
    assert await cart_app.snapshot() == before
