"""Admin writes over HTTP: each change and its outbox event commit together, on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from agora.contracts.catalog import PRODUCT_CREATED, PRODUCT_DELETED, PRODUCT_UPDATED, ProductCreated, ProductUpdated
from agora.services.catalog import spec

from .conftest import Catalog, bearer

API = "/api/catalog"


def new_product(sku: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": sku,
        "name": "Quokka Trail Sandal",
        "description": "An open sandal for river crossings.",
        "price": {"amount": 4999, "currency": "EUR"},
        "category": "footwear",
        "tags": ["sandals", "summer", "quokka"],
        "images": ["https://cdn.example.com/sandal.jpg"],
    }
    body.update(overrides)
    return body


async def test_create_product_emits_created_in_the_same_transaction(catalog: Catalog, admin_token: str) -> None:
    before = await catalog.counts()
    response = await catalog.client.post(f"{API}/products", json=new_product("ADM-0001"), headers=bearer(admin_token))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{API}/products/{body['id']}"
    assert response.headers["etag"]
    assert body["price"] == {"amount": 4999, "currency": "EUR"}
    assert body["tags"] == ["quokka", "sandals", "summer"] and body["version"] == 1 and body["active"] is True

    after = await catalog.counts()
    assert after["products"] == before["products"] + 1
    assert after["product_tags"] == before["product_tags"] + 3
    assert after["outbox"] == before["outbox"] + 1
    event = (await catalog.events(PRODUCT_CREATED))[-1]
    assert event["key"] == body["id"] and event["subject"] == body["id"] and event["source"] == "agora/catalog"
    assert ProductCreated.model_validate(event["data"]).product.model_dump(mode="json")["sku"] == "ADM-0001"
    assert event["data"]["product"] == body

    fetched = await catalog.client.get(f"{API}/products/{body['id']}")
    assert fetched.json() == body and fetched.headers["etag"] == response.headers["etag"]
    # searchable and filterable right away, on every database
    found = await catalog.client.get(f"{API}/products", params={"q": "quokka sandal"})
    assert [item["sku"] for item in found.json()["items"]] == ["ADM-0001"]
    tagged = await catalog.client.get(f"{API}/products", params={"tag": "quokka", "currency": "EUR"})
    assert [item["sku"] for item in tagged.json()["items"]] == ["ADM-0001"]


async def test_duplicate_sku_is_409_and_writes_nothing(catalog: Catalog, admin_token: str) -> None:
    await catalog.client.post(f"{API}/products", json=new_product("ADM-0002"), headers=bearer(admin_token))
    before = await catalog.counts()
    for sku in ("ADM-0002", "FTW-RUN-001"):
        response = await catalog.client.post(
            f"{API}/products", json=new_product(sku, name="Another"), headers=bearer(admin_token)
        )
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "sku" in [error["field"] for error in response.json()["errors"]]
    created = (
        await catalog.client.post(f"{API}/products", json=new_product("ADM-0003"), headers=bearer(admin_token))
    ).json()
    before = await catalog.counts()
    clash = await catalog.client.patch(
        f"{API}/products/{created['id']}", json={"sku": "ADM-0002"}, headers=bearer(admin_token)
    )
    assert clash.status_code == 409 and "sku" in [e["field"] for e in clash.json()["errors"]]
    assert await catalog.counts() == before


async def test_unknown_category_is_422_naming_it(catalog: Catalog, admin_token: str) -> None:
    before = await catalog.counts()
    response = await catalog.client.post(
        f"{API}/products", json=new_product("ADM-0004", category="no-such-thing"), headers=bearer(admin_token)
    )
    assert response.status_code == 422 and "category" in [e["field"] for e in response.json()["errors"]]
    assert await catalog.counts() == before


async def test_patch_changes_only_what_was_sent_and_bumps_the_version(catalog: Catalog, admin_token: str) -> None:
    created = await catalog.client.post(f"{API}/products", json=new_product("ADM-0010"), headers=bearer(admin_token))
    product = created.json()
    url = f"{API}/products/{product['id']}"

    before = await catalog.counts()
    response = await catalog.client.patch(
        url,
        json={"price": {"amount": 3999, "currency": "EUR"}, "tags": ["clearance", "sandals"], "name": "Wombat Sandal"},
        headers=bearer(admin_token),
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["price"]["amount"] == 3999 and updated["version"] == 2
    assert updated["tags"] == ["clearance", "sandals"] and updated["name"] == "Wombat Sandal"
    assert updated["description"] == product["description"] and updated["sku"] == product["sku"]
    after = await catalog.counts()
    assert after["outbox"] == before["outbox"] + 1
    assert after["product_tags"] == before["product_tags"] - 1
    event = (await catalog.events(PRODUCT_UPDATED))[-1]
    payload = ProductUpdated.model_validate(event["data"])
    assert payload.changed == ["name", "price", "tags"] and payload.product.version == 2

    # the full-text index and the tag index followed the update
    search = await catalog.client.get(f"{API}/products", params={"q": "wombat"})
    assert [item["sku"] for item in search.json()["items"]] == ["ADM-0010"]
    old_words = await catalog.client.get(f"{API}/products", params={"q": "quokka", "limit": 100})
    assert "ADM-0010" not in [item["sku"] for item in old_words.json()["items"]]
    clearance = await catalog.client.get(f"{API}/products", params={"tag": "clearance"})
    assert [item["sku"] for item in clearance.json()["items"]] == ["ADM-0010"]

    # sending the current values changes nothing and publishes nothing
    before = await catalog.counts()
    same = await catalog.client.patch(url, json={"name": "Wombat Sandal"}, headers=bearer(admin_token))
    assert same.status_code == 200 and same.json()["version"] == 2
    assert await catalog.counts() == before

    # moving to another category
    moved = await catalog.client.patch(url, json={"category": "outdoor"}, headers=bearer(admin_token))
    assert moved.json()["category"]["slug"] == "outdoor" and moved.json()["version"] == 3


async def test_if_match_gives_optimistic_concurrency(catalog: Catalog, admin_token: str) -> None:
    created = await catalog.client.post(f"{API}/products", json=new_product("ADM-0020"), headers=bearer(admin_token))
    url = f"{API}/products/{created.json()['id']}"
    first_etag = created.headers["etag"]

    ok = await catalog.client.patch(
        url, json={"description": "Edited once."}, headers={**bearer(admin_token), "If-Match": first_etag}
    )
    assert ok.status_code == 200 and ok.headers["etag"] != first_etag

    before = await catalog.counts()
    stale = await catalog.client.patch(
        url, json={"description": "Lost update"}, headers={**bearer(admin_token), "If-Match": first_etag}
    )
    assert stale.status_code == 412 and stale.headers["content-type"] == "application/problem+json"
    weak = await catalog.client.patch(
        url, json={"description": "Weak"}, headers={**bearer(admin_token), "If-Match": "W/" + ok.headers["etag"]}
    )
    assert weak.status_code == 412
    stale_delete = await catalog.client.delete(url, headers={**bearer(admin_token), "If-Match": first_etag})
    assert stale_delete.status_code == 412
    assert await catalog.counts() == before
    assert (await catalog.client.get(url)).json()["description"] == "Edited once."

    current = await catalog.client.patch(
        url, json={"description": "Edited twice."}, headers={**bearer(admin_token), "If-Match": ok.headers["etag"]}
    )
    assert current.status_code == 200 and current.json()["version"] == 3


async def test_delete_is_a_soft_delete_visible_only_to_admins(catalog: Catalog, admin_token: str) -> None:
    created = await catalog.client.post(f"{API}/products", json=new_product("ADM-0030"), headers=bearer(admin_token))
    product = created.json()
    url = f"{API}/products/{product['id']}"
    active_before = await catalog.active_count()

    before = await catalog.counts()
    response = await catalog.client.delete(url, headers=bearer(admin_token))
    assert response.status_code == 204 and response.content == b""
    after = await catalog.counts()
    assert after["products"] == before["products"] and after["outbox"] == before["outbox"] + 1
    assert await catalog.active_count() == active_before - 1
    event = (await catalog.events(PRODUCT_DELETED))[-1]
    assert event["data"] == {"id": product["id"], "sku": "ADM-0030", "version": 2, "mode": "soft"}

    assert (await catalog.client.get(url)).status_code == 404
    assert (await catalog.client.get(f"{API}/products/by-sku/ADM-0030")).status_code == 404
    listed = await catalog.client.get(f"{API}/products", params={"q": "quokka", "limit": 100})
    assert "ADM-0030" not in [item["sku"] for item in listed.json()["items"]]

    as_admin = await catalog.client.get(url, headers=bearer(admin_token))
    assert as_admin.status_code == 200 and as_admin.json()["active"] is False
    inactive = await catalog.client.get(f"{API}/products", params={"active": "false"}, headers=bearer(admin_token))
    assert "ADM-0030" in [item["sku"] for item in inactive.json()["items"]]

    # deleting again is idempotent and publishes nothing
    before = await catalog.counts()
    assert (await catalog.client.delete(url, headers=bearer(admin_token))).status_code == 204
    assert await catalog.counts() == before

    restored = await catalog.client.patch(url, json={"active": True}, headers=bearer(admin_token))
    assert restored.status_code == 200 and restored.json()["active"] is True
    assert (await catalog.client.get(url)).status_code == 200

    missing = await catalog.client.delete(
        f"{API}/products/00000000-0000-4000-8000-000000000000", headers=bearer(admin_token)
    )
    assert missing.status_code == 404


async def test_sql_and_script_looking_strings_are_stored_and_returned_verbatim(
    catalog: Catalog, admin_token: str
) -> None:
    texts = {
        "name": "Robert'); DROP TABLE products;-- <script>alert('x')</script>",
        "description": "1' OR '1'='1\n<img src=x onerror=alert(1)> {{7*7}} ${jndi:ldap://x} %s %n \\x00 👟 déjà",
    }
    response = await catalog.client.post(
        f"{API}/products", json=new_product("ADM-0040", **texts), headers=bearer(admin_token)
    )
    assert response.status_code == 201, response.text
    product = (await catalog.client.get(f"{API}/products/{response.json()['id']}")).json()
    assert (product["name"], product["description"]) == (texts["name"], texts["description"])
    assert (await catalog.client.get(f"{API}/products/by-sku/ADM-0001")).status_code == 200
    found = await catalog.client.get(f"{API}/products", params={"q": "robert drop table"})
    assert "ADM-0040" in [item["sku"] for item in found.json()["items"]]


async def test_categories_admin(catalog: Catalog, admin_token: str) -> None:
    before = await catalog.counts()
    body = {"slug": "garden", "name": "Garden", "description": "Tools & seeds"}
    created = await catalog.client.post(f"{API}/categories", json=body, headers=bearer(admin_token))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{API}/categories/garden"
    assert (await catalog.counts())["categories"] == before["categories"] + 1
    duplicate = await catalog.client.post(f"{API}/categories", json=body, headers=bearer(admin_token))
    assert duplicate.status_code == 409 and "slug" in [e["field"] for e in duplicate.json()["errors"]]

    renamed = await catalog.client.patch(
        f"{API}/categories/garden", json={"name": "Garden & Patio"}, headers=bearer(admin_token)
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Garden & Patio"
    taken = await catalog.client.patch(
        f"{API}/categories/garden", json={"slug": "kitchen"}, headers=bearer(admin_token)
    )
    assert taken.status_code == 409
    missing = await catalog.client.patch(f"{API}/categories/nope", json={"name": "x"}, headers=bearer(admin_token))
    assert missing.status_code == 404

    placed = await catalog.client.post(
        f"{API}/products", json=new_product("ADM-0050", category="garden"), headers=bearer(admin_token)
    )
    assert placed.json()["category"] == {"id": created.json()["id"], "slug": "garden", "name": "Garden & Patio"}
    listed = await catalog.client.get(f"{API}/products", params={"category": "garden"})
    assert [item["sku"] for item in listed.json()["items"]] == ["ADM-0050"]


async def test_seeding_again_inserts_nothing(catalog: Catalog) -> None:
    before = await catalog.counts()
    assert await spec.seed(catalog.context) == 0
    assert await catalog.counts() == before


async def test_concurrent_updates_cannot_both_win(catalog: Catalog, admin_token: str) -> None:
    from agora.services.catalog.schemas import ProductUpdate
    from agora.services.catalog.service import CatalogService, ConcurrentUpdateError

    created = await catalog.client.post(f"{API}/products", json=new_product("ADM-0060"), headers=bearer(admin_token))
    product_id = created.json()["id"]
    sessions, outbox = catalog.context.sessions, catalog.context.outbox
    async with sessions() as first, sessions() as second:
        one = CatalogService(first, events=outbox, include_inactive=True)
        two = CatalogService(second, events=outbox, include_inactive=True)
        mine = await one.load_for_update(product_id)
        theirs = await two.load_for_update(product_id)
        await one.update_product(mine, ProductUpdate.model_validate({"name": "First writer"}))
        await first.commit()
        with pytest.raises(ConcurrentUpdateError):
            await two.update_product(theirs, ProductUpdate.model_validate({"name": "Second writer"}))
        await second.rollback()
    body = (await catalog.client.get(f"{API}/products/{product_id}")).json()
    assert (body["name"], body["version"]) == ("First writer", 2)
