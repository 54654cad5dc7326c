"""The catalog without a media service: writes that name media ids answer 503 and change nothing;
writes whose images are URLs or paths never ask media and go through.

(With media running, unknown ids are a 422: tests/integration/media/test_with_catalog.py.)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.services import catalog, identity
from tests.support.stack import Stack, User


@pytest.fixture(scope="module")
async def stack(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("catalog-without-media")
    platform = platform_for_tests(tmp, jwks_file=None)
    async with service_databases(database_backend, ["identity", "catalog"], tmp) as urls:
        settings = {
            "identity": identity.IdentitySettings(database_url=urls["identity"]),
            "catalog": catalog.CatalogSettings(database_url=urls["catalog"]),
        }
        async with running_services([identity.spec, catalog.spec], platform, settings, seed=True) as running:
            yield Stack(*running)


@pytest.fixture(scope="module")
async def admin(stack: Stack) -> User:
    return await stack.admin()


async def test_media_ids_need_media_to_answer(stack: Stack, admin: User) -> None:
    listed = (await stack.client.get("/api/catalog/products", params={"limit": 1})).json()["items"][0]
    product = (await stack.client.get(f"/api/catalog/products/{listed['id']}", headers=admin.headers)).json()
    media_id = str(uuid.uuid4())
    body = {
        "sku": "MEDIA-DOWN-1",
        "name": "Print",
        "price": {"amount": 500, "currency": "USD"},
        "category": product["category"]["slug"],
    }

    created = await stack.client.post(
        "/api/catalog/products", json={**body, "images": [media_id]}, headers=admin.headers
    )
    assert created.status_code == 503, created.text
    assert created.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in created.json()["errors"]] == ["body.images"]
    assert (
        await stack.client.get("/api/catalog/products/by-sku/MEDIA-DOWN-1", headers=admin.headers)
    ).status_code == 404

    patched = await stack.client.patch(
        f"/api/catalog/products/{product['id']}", json={"images": [media_id]}, headers=admin.headers
    )
    assert patched.status_code == 503, patched.text
    assert (await stack.client.get(f"/api/catalog/products/{product['id']}", headers=admin.headers)).json() == product

    # no media id: media is not asked
    plain = await stack.client.post(
        "/api/catalog/products", json={**body, "images": ["https://cdn.example.com/print.jpg"]}, headers=admin.headers
    )
    assert plain.status_code == 201, plain.text
    renamed = await stack.client.patch(
        f"/api/catalog/products/{product['id']}", json={"name": "Renamed while media is away"}, headers=admin.headers
    )
    assert renamed.status_code == 200, renamed.text
