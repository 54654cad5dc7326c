"""The bad-input battery: every refusal is a 4xx problem and provably writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import MAX_BODY_BYTES, Catalog, bearer

API = "/api/catalog"


def valid_product(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": "BAD-0001",
        "name": "Should never be stored",
        "price": {"amount": 1000, "currency": "USD"},
        "category": "footwear",
    }
    body.update(overrides)
    return body


JSON = {"content-type": "application/json"}

CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("malformed-json", {"content": b'{"sku": "BAD-0001", ', "headers": JSON}, 400, "body"),
    ("json-array", {"json": [valid_product()]}, 422, "body"),
    ("empty-body", {"content": b"", "headers": JSON}, 422, "body"),
    ("not-utf8", {"content": b'{"sku": "BAD-0001", "name": "\xff\xfe\xfa"}', "headers": JSON}, 400, None),
    ("latin1-declared-json", {"content": '{"name": "caf\xe9"}'.encode("latin-1"), "headers": JSON}, 400, None),
    (
        "form-content-type",
        {"content": b"sku=BAD-0001", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        415,
        "content-type",
    ),
    (
        "xml-content-type",
        {"content": b"<product/>", "headers": {"content-type": "application/xml"}},
        415,
        "content-type",
    ),
    (
        "text-plain-json",
        {"content": b'{"sku": "BAD-0001"}', "headers": {"content-type": "text/plain"}},
        415,
        "content-type",
    ),
    ("price-as-string", {"json": valid_product(price={"amount": "1000", "currency": "USD"})}, 422, "body.price.amount"),
    ("price-as-float", {"json": valid_product(price={"amount": 10.5, "currency": "USD"})}, 422, "body.price.amount"),
    ("price-negative", {"json": valid_product(price={"amount": -500, "currency": "USD"})}, 422, "body.price.amount"),
    ("price-zero", {"json": valid_product(price={"amount": 0, "currency": "USD"})}, 422, "body.price.amount"),
    ("price-absurd", {"json": valid_product(price={"amount": 10**18, "currency": "USD"})}, 422, "body.price.amount"),
    (
        "price-huge",
        {
            "content": b'{"sku":"BAD-0001","name":"x","category":"footwear","price":{"amount":1'
            + b"0" * 400
            + b',"currency":"USD"}}',
            "headers": JSON,
        },
        422,
        None,
    ),
    ("price-flat", {"json": valid_product(price=1000)}, 422, "body.price"),
    ("currency-lower", {"json": valid_product(price={"amount": 100, "currency": "usd"})}, 422, "body.price.currency"),
    ("currency-unknown", {"json": valid_product(price={"amount": 100, "currency": "ZZZ"})}, 422, "body.price.currency"),
    ("name-too-long", {"json": valid_product(name="n" * 201)}, 422, "body.name"),
    ("name-empty", {"json": valid_product(name="")}, 422, "body.name"),
    ("name-nul", {"json": valid_product(name="a\u0000b")}, 422, "body.name"),
    (
        "name-surrogate",
        {
            "content": b'{"sku":"BAD-0001","name":"a\\ud800b","category":"footwear",'
            b'"price":{"amount":1,"currency":"USD"}}',
            "headers": JSON,
        },
        422,
        "body.name",
    ),
    ("description-too-long", {"json": valid_product(description="d" * 5001)}, 422, "body.description"),
    ("sku-pattern", {"json": valid_product(sku="bad sku; --")}, 422, "body.sku"),
    ("sku-missing", {"json": {k: v for k, v in valid_product().items() if k != "sku"}}, 422, "body.sku"),
    ("tag-too-long", {"json": valid_product(tags=["t" * 41])}, 422, "body.tags.0"),
    ("too-many-tags", {"json": valid_product(tags=[f"tag{i}" for i in range(21)])}, 422, "body.tags"),
    ("tag-not-slug", {"json": valid_product(tags=["<b>bold</b>"])}, 422, "body.tags.0"),
    ("image-javascript", {"json": valid_product(images=["javascript:alert(1)"])}, 422, "body.images.0"),
    ("active-as-string", {"json": valid_product(active="true")}, 422, "body.active"),
    ("extra-field", {"json": valid_product(id="00000000-0000-4000-8000-000000000000")}, 422, "body.id"),
    (
        "nested-extra-field",
        {"json": valid_product(price={"amount": 1, "currency": "USD", "tax": 5})},
        422,
        "body.price.tax",
    ),
]


@pytest.mark.parametrize(("request_kwargs", "status", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_create_is_refused_and_writes_nothing(
    catalog: Catalog, admin_token: str, request_kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    before = await catalog.counts()
    kwargs = dict(request_kwargs)
    headers = {**bearer(admin_token), **kwargs.pop("headers", {})}
    response = await catalog.client.post(f"{API}/products", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and "Traceback" not in response.text
    if field:
        assert field in [error["field"] for error in problem["errors"]], problem
    assert await catalog.counts() == before
    assert (await catalog.client.get(f"{API}/products/by-sku/BAD-0001")).status_code == 404


@pytest.fixture
async def product_url(catalog: Catalog) -> str:
    first = (await catalog.client.get(f"{API}/products", params={"limit": 1})).json()["items"][0]
    return f"{API}/products/{first['id']}"


PATCH_CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("malformed-json", {"content": b'{"name": ', "headers": JSON}, 400, "body"),
    ("null-name", {"json": {"name": None}}, 422, "body.name"),
    ("null-price", {"json": {"price": None}}, 422, "body.price"),
    ("negative-price", {"json": {"price": {"amount": -1, "currency": "USD"}}}, 422, "body.price.amount"),
    ("absurd-price", {"json": {"price": {"amount": 1_000_000_001, "currency": "USD"}}}, 422, "body.price.amount"),
    ("version-is-not-writable", {"json": {"version": 99}}, 422, "body.version"),
    ("id-is-not-writable", {"json": {"id": "x"}}, 422, "body.id"),
    ("over-long-description", {"json": {"description": "x" * 6000}}, 422, "body.description"),
    ("unknown-category", {"json": {"category": "nowhere"}}, 422, "category"),
    ("wrong-type-tags", {"json": {"tags": "a,b"}}, 422, "body.tags"),
    (
        "unknown-content-type",
        {"content": b"name=x", "headers": {"content-type": "multipart/form-data; boundary=x"}},
        415,
        "content-type",
    ),
    ("not-utf8", {"content": b'{"name": "\xc3\x28"}', "headers": JSON}, 400, None),
]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "field"), [c[1:] for c in PATCH_CASES], ids=[c[0] for c in PATCH_CASES]
)
async def test_bad_patch_is_refused_and_writes_nothing(
    catalog: Catalog, admin_token: str, product_url: str, request_kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    original = (await catalog.client.get(product_url)).json()
    before = await catalog.counts()
    kwargs = dict(request_kwargs)
    headers = {**bearer(admin_token), **kwargs.pop("headers", {})}
    response = await catalog.client.patch(product_url, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [error["field"] for error in response.json()["errors"]]
    assert await catalog.counts() == before
    assert (await catalog.client.get(product_url)).json() == original


async def test_body_over_the_limit_is_413_and_writes_nothing(
    catalog: Catalog, admin_token: str, product_url: str
) -> None:
    before = await catalog.counts()
    huge = valid_product(description="x" * (MAX_BODY_BYTES + 10))
    response = await catalog.client.post(f"{API}/products", json=huge, headers=bearer(admin_token))
    assert response.status_code == 413
    response = await catalog.client.patch(
        product_url, json={"description": "y" * (MAX_BODY_BYTES * 2)}, headers=bearer(admin_token)
    )
    assert response.status_code == 413

    async def chunks():  # no Content-Length: the limit must hold for a streamed body too
        for _ in range(MAX_BODY_BYTES // 1024 + 10):
            yield b" " * 1024

    streamed = await catalog.client.post(f"{API}/products", content=chunks(), headers={**bearer(admin_token), **JSON})
    assert streamed.status_code == 413
    assert await catalog.counts() == before


def admin_routes(product_url: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", f"{API}/products", valid_product()),
        ("PATCH", product_url, {"name": "Hijacked"}),
        ("DELETE", product_url, None),
        ("POST", f"{API}/categories", {"slug": "hijacked", "name": "Hijacked"}),
        ("PATCH", f"{API}/categories/footwear", {"name": "Hijacked"}),
    ]


async def test_every_admin_route_refuses_anonymous_bad_and_customer_tokens(
    catalog: Catalog, customer_token: str, token_factory, product_url: str
) -> None:
    import time

    expired = token_factory(roles=["admin"], now=time.time() - 7200)
    callers = [
        ({}, 401),
        ({"Authorization": "Bearer not-a-jwt"}, 401),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401),
        ({"Authorization": f"Bearer {expired}"}, 401),
        (bearer(token_factory(roles=["admin"], audience="another-platform")), 401),
        (bearer(customer_token), 403),
        (bearer(token_factory(roles=["support"], subject="support-1")), 403),
    ]
    before = await catalog.counts()
    for method, url, body in admin_routes(product_url):
        for headers, status in callers:
            response = await catalog.client.request(method, url, json=body, headers=headers)
            assert response.status_code == status, (method, url, headers, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            if status == 401:
                assert response.headers["www-authenticate"].startswith("Bearer")
    assert await catalog.counts() == before
    assert (await catalog.client.get(product_url)).json()["name"] != "Hijacked"
