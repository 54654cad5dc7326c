"""Admin CRUD: each write publishes its ads.ad.* event in the same transaction; only admins may."""

from __future__ import annotations

import pytest

from .conftest import API, Ads, bearer


async def test_create_read_update_delete_with_events(ads: Ads, admin_token: str) -> None:
    created = await ads.client.post(
        API,
        json={
            "title": "  Spring sale  ",
            "text": "Up to 30% off.\nThis week only.",
            "url": "https://shop.example.com/sale?x=1",
            "image": "/media/images/abc",
            "categories": ["cat-crud", "cat-crud", "cat-b"],
            "keywords": ["sale", "spring"],
            "weight": 300,
            "starts_at": "2026-01-01T00:00:00+01:00",
        },
        headers=bearer(admin_token),
    )
    assert created.status_code == 201, created.text
    ad = created.json()
    assert created.headers["location"] == f"{API}/{ad['id']}"
    assert created.headers["etag"] == '"1"'
    assert ad["title"] == "Spring sale"
    assert ad["categories"] == ["cat-b", "cat-crud"]
    assert ad["starts_at"] == "2025-12-31T23:00:00Z" and ad["ends_at"] is None
    assert ad["active"] is True and ad["version"] == 1
    [event] = [e for e in await ads.events("ads.ad.created") if e["key"] == ad["id"]]
    assert event["data"]["ad"] == ad and event["subject"] == ad["id"]

    read = await ads.client.get(f"{API}/{ad['id']}", headers=bearer(admin_token))
    assert read.status_code == 200 and read.json() == ad

    patched = await ads.client.patch(
        f"{API}/{ad['id']}",
        json={"weight": 5, "image": None, "keywords": ["sale"], "version": 1},
        headers={**bearer(admin_token), "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["weight"] == 5 and patched.json()["image"] is None and patched.json()["version"] == 2
    [updated] = [e for e in await ads.events("ads.ad.updated") if e["key"] == ad["id"]]
    assert updated["data"]["changed"] == ["image", "keywords", "weight"]
    assert updated["data"]["ad"]["version"] == 2

    # the same change again changes nothing and publishes nothing
    before = await ads.state()
    same = await ads.client.patch(f"{API}/{ad['id']}", json={"weight": 5}, headers=bearer(admin_token))
    assert same.status_code == 200 and same.json()["version"] == 2
    assert await ads.state() == before

    stale = await ads.client.patch(
        f"{API}/{ad['id']}", json={"weight": 6}, headers={**bearer(admin_token), "If-Match": '"1"'}
    )
    assert stale.status_code == 412 and stale.json()["errors"][0]["field"] == "if-match"
    stale_body = await ads.client.patch(
        f"{API}/{ad['id']}", json={"weight": 6, "version": 1}, headers=bearer(admin_token)
    )
    assert stale_body.status_code == 412 and stale_body.json()["errors"][0]["field"] == "body.version"
    assert await ads.state() == before

    deleted = await ads.client.delete(f"{API}/{ad['id']}", headers=bearer(admin_token))
    assert deleted.status_code == 204
    assert [e["data"] for e in await ads.events("ads.ad.deleted") if e["key"] == ad["id"]] == [
        {"id": ad["id"], "version": 2}
    ]
    gone = await ads.client.get(f"{API}/{ad['id']}", headers=bearer(admin_token))
    assert gone.status_code == 404
    assert (await ads.client.delete(f"{API}/{ad['id']}", headers=bearer(admin_token))).status_code == 404


async def test_admin_list_includes_inactive_ads_and_pages_with_a_cursor(ads: Ads, admin_token: str) -> None:
    off = await ads.create(admin_token, title="Hidden", categories=["cat-list"], active=False)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        response = await ads.client.get(f"{API}/all", params=params, headers=bearer(admin_token))
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    state = await ads.state()
    assert sorted(seen) == sorted(state["ads"]) and len(seen) == len(set(seen))
    assert off["id"] in seen


ADMIN_ROUTES = [
    ("GET", f"{API}/all", None),
    ("POST", API, {"title": "x", "url": "/"}),
    ("GET", f"{API}/00000000-0000-4000-8000-000000000000", None),
    ("PATCH", f"{API}/00000000-0000-4000-8000-000000000000", {"weight": 1}),
    ("DELETE", f"{API}/00000000-0000-4000-8000-000000000000", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES])
async def test_admin_routes_refuse_anonymous_401_and_customers_403(
    ads: Ads,
    customer_token: str,
    method: str,
    path: str,
    body: dict | None,  # type: ignore[type-arg]
) -> None:
    before = await ads.state()
    anonymous = await ads.client.request(method, path, json=body)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["content-type"] == "application/problem+json"
    customer = await ads.client.request(method, path, json=body, headers=bearer(customer_token))
    assert customer.status_code == 403, customer.text
    assert await ads.state() == before


async def test_serving_needs_no_token(ads: Ads) -> None:
    assert (await ads.client.get(API)).status_code == 200
