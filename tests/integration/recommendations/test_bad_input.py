"""Bad input is a 4xx problem naming the field, and changes nothing."""

from __future__ import annotations

import pytest

from .conftest import API, Item, Recommender, bearer, created, new_id


def fields(response: object) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
async def known(recommender: Recommender) -> str:
    item = Item(new_id(), "Known Product", "bad-input")
    await recommender.publish(created(item))
    return item.id


BAD_PRODUCT_REQUESTS = [
    ("limit zero", lambda pid: (f"/products/{pid}", {"limit": 0}), 422, "query.limit"),
    ("limit negative", lambda pid: (f"/products/{pid}", {"limit": -3}), 422, "query.limit"),
    ("limit too large", lambda pid: (f"/products/{pid}", {"limit": 51}), 422, "query.limit"),
    ("limit as text", lambda pid: (f"/products/{pid}", {"limit": "ten"}), 422, "query.limit"),
    ("malformed id", lambda pid: ("/products/not an id!", {}), 422, "path.product_id"),
    ("id too long", lambda pid: ("/products/" + "a" * 65, {}), 422, "path.product_id"),
    ("unknown id", lambda pid: (f"/products/{new_id()}", {}), 404, "product_id"),
    ("me: limit too large", lambda pid: ("/me", {"limit": 1000}), 422, "query.limit"),
    ("me: limit zero", lambda pid: ("/me", {"limit": 0}), 422, "query.limit"),
]


@pytest.mark.parametrize(
    ("request_of", "status", "field"),
    [pytest.param(make, status, field, id=name) for name, make, status, field in BAD_PRODUCT_REQUESTS],
)
async def test_bad_requests_are_problems_naming_the_field(
    recommender: Recommender, known: str, request_of: object, status: int, field: str
) -> None:
    before = await recommender.tables()
    path, params = request_of(known)  # type: ignore[operator]
    headers = bearer(recommender.token_factory(roles=["customer"], subject="bad-input-user"))
    response = await recommender.client.get(f"{API}{path}", params=params, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in fields(response)
    assert await recommender.tables() == before


async def test_me_needs_a_signed_in_user(recommender: Recommender) -> None:
    before = await recommender.tables()
    response = await recommender.client.get(f"{API}/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    bad = await recommender.client.get(f"{API}/me", headers=bearer("not-a-token"))
    assert bad.status_code == 401
    assert await recommender.tables() == before


async def test_a_good_request_still_answers(recommender: Recommender, known: str) -> None:
    response = await recommender.client.get(f"{API}/products/{known}", params={"limit": 50})
    assert response.status_code == 200
    assert known not in {item["product_id"] for item in response.json()["items"]}
