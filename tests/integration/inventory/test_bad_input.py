"""Bad input is a 4xx problem naming the field, and changes nothing: no row, no count, no event."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import API, Inventory, bearer, new_reservation_id, new_sku


def fields(response: Any) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


@pytest.fixture(scope="module")
async def stocked(inventory: Inventory) -> tuple[str, str]:
    a, b = new_sku("BAD"), new_sku("BAD")
    await inventory.set_stock(a, 5)
    await inventory.set_stock(b, 5)
    await inventory.reserve([(a, 2)])
    return a, b


def reservation(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"reservation_id": new_reservation_id(), "items": items, **extra}


BAD_RESERVATIONS = [
    ("zero quantity", lambda a, b: reservation([{"sku": a, "quantity": 0}]), 422, "body.items.0.quantity"),
    ("negative quantity", lambda a, b: reservation([{"sku": a, "quantity": -1}]), 422, "body.items.0.quantity"),
    ("quantity too large", lambda a, b: reservation([{"sku": a, "quantity": 10_001}]), 422, "body.items.0.quantity"),
    ("quantity as text", lambda a, b: reservation([{"sku": a, "quantity": "1"}]), 422, "body.items.0.quantity"),
    ("empty items", lambda a, b: reservation([]), 422, "body.items"),
    (
        "too many items",
        lambda a, b: reservation([{"sku": f"X-{i}", "quantity": 1} for i in range(101)]),
        422,
        "body.items",
    ),
    (
        "duplicate skus",
        lambda a, b: reservation([{"sku": a, "quantity": 1}, {"sku": b, "quantity": 1}, {"sku": a, "quantity": 1}]),
        422,
        "body.items",
    ),
    ("malformed sku", lambda a, b: reservation([{"sku": "bad sku!", "quantity": 1}]), 422, "body.items.0.sku"),
    ("ttl zero", lambda a, b: reservation([{"sku": a, "quantity": 1}], ttl_seconds=0), 422, "body.ttl_seconds"),
    ("ttl too long", lambda a, b: reservation([{"sku": a, "quantity": 1}], ttl_seconds=3601), 422, "body.ttl_seconds"),
    ("missing id", lambda a, b: {"items": [{"sku": a, "quantity": 1}]}, 422, "body.reservation_id"),
    (
        "id too long",
        lambda a, b: reservation([{"sku": a, "quantity": 1}], reservation_id="x" * 37),
        422,
        "body.reservation_id",
    ),
    ("unknown field", lambda a, b: reservation([{"sku": a, "quantity": 1}], priority=1), 422, "body.priority"),
    # all or nothing: the first line fits, the second does not, so neither is held
    (
        "more than available",
        lambda a, b: reservation([{"sku": b, "quantity": 1}, {"sku": a, "quantity": 4}]),
        409,
        "items[1].quantity",
    ),
    (
        "unknown sku",
        lambda a, b: reservation([{"sku": a, "quantity": 1}, {"sku": "NO-SUCH-SKU", "quantity": 1}]),
        409,
        "items[1].sku",
    ),
]


@pytest.mark.parametrize(("case", "build", "status", "field"), BAD_RESERVATIONS, ids=[c[0] for c in BAD_RESERVATIONS])
async def test_bad_reservation_is_refused_and_changes_nothing(
    inventory: Inventory, stocked: tuple[str, str], case: str, build: Any, status: int, field: str
) -> None:
    a, b = stocked
    levels = [await inventory.stock(a), await inventory.stock(b)]
    before = await inventory.counts()
    response = await inventory.client.post(f"{API}/reservations", json=build(a, b), headers=inventory.service_headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in fields(response), response.json()
    assert await inventory.counts() == before
    assert [await inventory.stock(a), await inventory.stock(b)] == levels


async def test_out_of_stock_problem_names_the_sku(inventory: Inventory, stocked: tuple[str, str]) -> None:
    a, _ = stocked
    response = await inventory.reserve([(a, 4)])
    assert response.status_code == 409
    problem = response.json()
    assert problem["sku"] == a and problem["available"] == 3 and problem["title"] == "Conflict"


async def test_not_json_and_malformed_json(inventory: Inventory, stocked: tuple[str, str]) -> None:
    before = await inventory.counts()
    as_text = await inventory.client.post(
        f"{API}/reservations",
        content=b"reservation_id=x",
        headers={**inventory.service_headers, "content-type": "text/plain"},
    )
    assert as_text.status_code == 415
    broken = await inventory.client.post(
        f"{API}/reservations",
        content=b'{"reservation_id": ',
        headers={**inventory.service_headers, "content-type": "application/json"},
    )
    assert broken.status_code == 400 and fields(broken) == ["body"]
    assert await inventory.counts() == before


@pytest.mark.parametrize("verb", ["reserve", "read", "commit", "release"])
async def test_internal_routes_need_a_service_token(
    inventory: Inventory, stocked: tuple[str, str], customer_token: str, verb: str
) -> None:
    a, _ = stocked
    held = await inventory.reserve([(a, 1)])
    reservation_id = held.json()["id"]
    levels = await inventory.stock(a)
    before = await inventory.counts()

    async def call(headers: dict[str, str]) -> Any:
        if verb == "reserve":
            body = reservation([{"sku": a, "quantity": 1}])
            return await inventory.client.post(f"{API}/reservations", json=body, headers=headers)
        if verb == "read":
            return await inventory.client.get(f"{API}/reservations/{reservation_id}", headers=headers)
        return await inventory.client.post(f"{API}/reservations/{reservation_id}/{verb}", headers=headers)

    anonymous = await call({})
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
    customer = await call(bearer(customer_token))
    assert customer.status_code == 403
    if verb == "reserve":  # an admin may read, commit and release, but not create a hold
        assert (await call(inventory.admin_headers)).status_code == 403
    assert await inventory.counts() == before
    assert await inventory.stock(a) == levels
    await inventory.action(reservation_id, "release")


async def test_setting_stock_needs_admin_and_valid_counts(
    inventory: Inventory, stocked: tuple[str, str], customer_token: str
) -> None:
    a, _ = stocked  # 5 on hand, 2 reserved
    levels = await inventory.stock(a)
    before = await inventory.counts()
    url = f"{API}/stock/{a}"
    assert (await inventory.client.put(url, json={"on_hand": 9})).status_code == 401
    assert (await inventory.client.put(url, json={"on_hand": 9}, headers=bearer(customer_token))).status_code == 403
    assert (await inventory.client.put(url, json={"on_hand": 9}, headers=inventory.service_headers)).status_code == 403
    for body, field in (
        ({"on_hand": -1}, "body.on_hand"),
        ({"on_hand": 1_000_000_001}, "body.on_hand"),
        ({"on_hand": "7"}, "body.on_hand"),
        ({"on_hand": 1.5}, "body.on_hand"),
        ({}, "body.on_hand"),
        ({"on_hand": 3, "reserved": 0}, "body.reserved"),
    ):
        response = await inventory.client.put(url, json=body, headers=inventory.admin_headers)
        assert response.status_code == 422 and field in fields(response), response.text
    below = await inventory.client.put(url, json={"on_hand": 1}, headers=inventory.admin_headers)
    assert below.status_code == 409 and fields(below) == ["on_hand"]
    bad_sku = await inventory.client.put(
        f"{API}/stock/not%20a%20sku", json={"on_hand": 1}, headers=inventory.admin_headers
    )
    assert bad_sku.status_code == 422 and "path.sku" in fields(bad_sku)
    assert await inventory.counts() == before
    assert await inventory.stock(a) == levels


async def test_bad_reads(inventory: Inventory, stocked: tuple[str, str]) -> None:
    unknown = await inventory.client.get(f"{API}/stock/NO-SUCH-SKU")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert (await inventory.client.get(f"{API}/stock/{'A' * 65}")).status_code == 422
    no_skus = await inventory.client.get(f"{API}/stock")
    assert no_skus.status_code == 422 and "query.sku" in fields(no_skus)
    too_many = await inventory.client.get(f"{API}/stock", params={"sku": [f"S-{i}" for i in range(101)]})
    assert too_many.status_code == 422 and "query.sku" in fields(too_many)
    bad_one = await inventory.client.get(f"{API}/stock", params={"sku": ["OK-1", "no good"]})
    assert bad_one.status_code == 422 and "query.sku.1" in fields(bad_one)
    tampered = await inventory.client.get(
        f"{API}/stock/all", params={"cursor": "abc.def"}, headers=inventory.admin_headers
    )
    assert tampered.status_code == 422 and fields(tampered) == ["query.cursor"]
    assert (await inventory.client.get(f"{API}/stock/all")).status_code == 401
    limit = await inventory.client.get(f"{API}/stock/all", params={"limit": 101}, headers=inventory.admin_headers)
    assert limit.status_code == 422 and "query.limit" in fields(limit)
    bad_id = await inventory.client.get(f"{API}/reservations/{'x' * 37}", headers=inventory.service_headers)
    assert bad_id.status_code == 422 and "path.reservation_id" in fields(bad_id)
