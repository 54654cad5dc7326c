"""The bad-input battery: every refusal is a 4xx problem naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import API, Ads, bearer

SERVE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("limit-zero", {"limit": 0}, "query.limit"),
    ("limit-too-big", {"limit": 11}, "query.limit"),
    ("limit-text", {"limit": "many"}, "query.limit"),
    ("too-many-keywords", {"keywords": " ".join(f"w{i}" for i in range(13))}, "query.keywords"),
    ("keyword-too-long", {"keywords": "a" * 41}, "query.keywords"),
    ("keywords-too-long", {"keywords": "ab," * 200}, "query.keywords"),
    ("category-not-a-slug", {"category": "Foot Wear"}, "query.category"),
    ("category-injection", {"category": "' OR 1=1 --"}, "query.category"),
    ("category-too-long", {"category": "a" * 65}, "query.category"),
]


@pytest.mark.parametrize(("params", "field"), [c[1:] for c in SERVE_CASES], ids=[c[0] for c in SERVE_CASES])
async def test_bad_serve_query_is_a_422_naming_the_field(ads: Ads, params: dict[str, Any], field: str) -> None:
    before = await ads.state()
    response = await ads.client.get(API, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await ads.state() == before


VALID = {"title": "Valid", "url": "/products"}
JSON = {"content-type": "application/json"}

CREATE_CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("title-empty", {"json": {**VALID, "title": ""}}, 422, "body.title"),
    ("title-blank", {"json": {**VALID, "title": "   "}}, 422, "body.title"),
    ("title-missing", {"json": {"url": "/products"}}, 422, "body.title"),
    ("title-too-long", {"json": {**VALID, "title": "x" * 121}}, 422, "body.title"),
    ("title-newline", {"json": {**VALID, "title": "a\nb"}}, 422, "body.title"),
    ("title-nul", {"json": {**VALID, "title": "a\x00b"}}, 422, "body.title"),
    ("text-too-long", {"json": {**VALID, "text": "x" * 501}}, 422, "body.text"),
    ("url-javascript", {"json": {**VALID, "url": "javascript:alert(1)"}}, 422, "body.url"),
    ("url-data", {"json": {**VALID, "url": "data:text/html,<script>x</script>"}}, 422, "body.url"),
    ("url-http", {"json": {**VALID, "url": "http://example.com/"}}, 422, "body.url"),
    ("url-protocol-relative", {"json": {**VALID, "url": "//evil.example.com/"}}, 422, "body.url"),
    ("url-backslash", {"json": {**VALID, "url": "/\\evil.example.com"}}, 422, "body.url"),
    ("url-relative-no-slash", {"json": {**VALID, "url": "products"}}, 422, "body.url"),
    ("url-blank-inside", {"json": {**VALID, "url": "/a b"}}, 422, "body.url"),
    ("url-missing", {"json": {"title": "x"}}, 422, "body.url"),
    ("image-javascript", {"json": {**VALID, "image": "javascript:x"}}, 422, "body.image"),
    ("category-not-a-slug", {"json": {**VALID, "categories": ["Foot Wear"]}}, 422, "body.categories.0"),
    ("too-many-categories", {"json": {**VALID, "categories": [f"c{i}" for i in range(21)]}}, 422, "body.categories"),
    ("too-many-keywords", {"json": {**VALID, "keywords": [f"k{i}" for i in range(21)]}}, 422, "body.keywords"),
    ("keyword-uppercase", {"json": {**VALID, "keywords": ["Sale"]}}, 422, "body.keywords.0"),
    ("weight-negative", {"json": {**VALID, "weight": -1}}, 422, "body.weight"),
    ("weight-too-big", {"json": {**VALID, "weight": 1001}}, 422, "body.weight"),
    ("weight-string", {"json": {**VALID, "weight": "5"}}, 422, "body.weight"),
    ("active-string", {"json": {**VALID, "active": "yes"}}, 422, "body.active"),
    ("starts-naive", {"json": {**VALID, "starts_at": "2026-01-01T00:00:00"}}, 422, "body.starts_at"),
    ("starts-garbage", {"json": {**VALID, "starts_at": "soon"}}, 422, "body.starts_at"),
    # lax pydantic read these as seconds since 1970; the document says a date-time string
    ("starts-a-number", {"json": {**VALID, "starts_at": 0}}, 422, "body.starts_at"),
    ("ends-digits", {"json": {**VALID, "ends_at": "1800000000"}}, 422, "body.ends_at"),
    (
        "ends-before-starts",
        {"json": {**VALID, "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}},
        422,
        "body.ends_at",
    ),
    ("extra-field", {"json": {**VALID, "id": "mine"}}, 422, "body.id"),
    ("json-array", {"json": [VALID]}, 422, "body"),
    ("malformed-json", {"content": b'{"title": ', "headers": JSON}, 400, "body"),
    ("form", {"content": b"title=x", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415, None),
]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "field"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
async def test_bad_ad_is_refused_and_changes_nothing(
    ads: Ads, admin_token: str, request_kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    before = await ads.state()
    kwargs = dict(request_kwargs)
    headers = {**bearer(admin_token), **kwargs.pop("headers", {})}
    response = await ads.client.post(API, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text
    if field:
        assert field in [error["field"] for error in response.json()["errors"]]
    assert await ads.state() == before


@pytest.fixture(scope="module")
async def target(ads: Ads, admin_token: str) -> dict[str, Any]:
    return await ads.create(
        admin_token, title="Target", categories=["cat-bad"], starts_at="2026-01-01T00:00:00Z", weight=7
    )


PATCH_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("title-null", {"title": None}, "body.title"),
    ("title-empty", {"title": ""}, "body.title"),
    ("url-javascript", {"url": "javascript:alert(document.cookie)"}, "body.url"),
    ("weight-null", {"weight": None}, "body.weight"),
    ("categories-null", {"categories": None}, "body.categories"),
    ("version-zero", {"version": 0}, "body.version"),
    ("ends-before-stored-start", {"ends_at": "2025-06-01T00:00:00Z"}, "body.ends_at"),
    ("unknown-field", {"clicks": 3}, "body.clicks"),
]


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in PATCH_CASES], ids=[c[0] for c in PATCH_CASES])
async def test_bad_patch_is_a_422_and_changes_nothing(
    ads: Ads, admin_token: str, target: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    before = await ads.state()
    response = await ads.client.patch(f"{API}/{target['id']}", json=body, headers=bearer(admin_token))
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await ads.state() == before


@pytest.mark.parametrize("ad_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "x" * 64])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_id_is_a_404(ads: Ads, admin_token: str, method: str, ad_id: str) -> None:
    before = await ads.state()
    body = {"weight": 1} if method == "PATCH" else None
    response = await ads.client.request(method, f"{API}/{ad_id}", json=body, headers=bearer(admin_token))
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await ads.state() == before


async def test_an_overlong_id_and_a_bad_cursor_are_422s(ads: Ads, admin_token: str) -> None:
    before = await ads.state()
    response = await ads.client.get(f"{API}/{'x' * 65}", headers=bearer(admin_token))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "path.ad_id"
    response = await ads.client.get(f"{API}/all", params={"cursor": "forged.cursor"}, headers=bearer(admin_token))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.cursor"
    response = await ads.client.get(f"{API}/all", params={"limit": 101}, headers=bearer(admin_token))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.limit"
    response = await ads.client.patch(
        f"{API}/00000000-0000-4000-8000-000000000000",
        json={"weight": 1},
        headers={**bearer(admin_token), "If-Match": "nope"},
    )
    assert response.status_code == 412 and response.json()["errors"][0]["field"] == "if-match"
    assert await ads.state() == before
