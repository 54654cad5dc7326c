"""Identity, catalog and media together, each on its own database, nothing faked.

The seeded demo products get real drawn images through catalog events; a product shows an
uploaded image after a PATCH; an image a product shows cannot be deleted; the catalog refuses
media ids media does not hold; media-gc removes orphaned objects and keeps the used ones.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image as PillowImage
from sqlalchemy import func, select

from agora.contracts.media import SYSTEM_OWNER, demo_image_id, image_url
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import catalog, identity, media
from agora.services.catalog.models import Product as CatalogProduct
from agora.services.media.cleanup import collect_orphans
from agora.services.media.models import Image
from agora.services.media.repository import MediaRepository
from agora.services.media.runtime import store_of
from agora.services.media.storage import object_key
from tests.support.stack import Stack, User

from .conftest import API
from .images import picture

DEADLINE = 90.0
SERVICES = ("identity", "catalog", "media")


@pytest.fixture(scope="module")
async def stack(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("media-catalog")
    platform = platform_for_tests(tmp, jwks_file=None)
    async with service_databases(database_backend, SERVICES, tmp) as urls:
        settings = {
            "identity": identity.IdentitySettings(database_url=urls["identity"]),
            "catalog": catalog.CatalogSettings(database_url=urls["catalog"]),
            "media": media.MediaSettings(database_url=urls["media"]),
        }
        specs = [identity.spec, catalog.spec, media.spec]
        async with running_services(specs, platform, settings, seed=True) as (client, embedded):
            yield Stack(client, embedded)


@pytest.fixture(scope="module")
async def admin(stack: Stack) -> User:
    return await stack.admin()


async def _demo_images(stack: Stack) -> int:
    async with stack.context("media").sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Image).where(Image.owner_id == SYSTEM_OWNER)))


async def _catalog_products(stack: Stack) -> int:
    async with stack.context("catalog").sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CatalogProduct)) or 0)


async def _upload(stack: Stack, user: User, data: bytes, purpose: str = "product") -> dict[str, Any]:
    response = await stack.client.post(
        f"{API}/images", files={"file": ("p.png", data)}, data={"purpose": purpose}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _first_product(stack: Stack) -> dict[str, Any]:
    response = await stack.client.get("/api/catalog/products", params={"limit": 1})
    return dict(response.json()["items"][0])


async def test_seeded_demo_products_get_drawn_images(stack: Stack) -> None:
    products = await _catalog_products(stack)
    await eventually(lambda: _demo_images_reached(stack, products), within=DEADLINE)

    product = await _first_product(stack)
    assert product["images"] == [demo_image_id(product["id"])]
    original = await stack.client.get(image_url(product["images"][0]))
    assert original.status_code == 200
    assert original.headers["content-type"] == "image/jpeg"
    with PillowImage.open(io.BytesIO(original.content)) as drawn:
        assert drawn.size == (400, 400)
        assert len(drawn.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 10  # a picture, not a blank square
    thumbnail = await stack.client.get(image_url(product["images"][0], "small"))
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/webp"
    meta = (await stack.client.get(f"{API}/images/{product['images'][0]}/meta")).json()
    assert (meta["owner_id"], meta["purpose"]) == (SYSTEM_OWNER, "product")
    assert hashlib.sha256(original.content).hexdigest() == meta["sha256"]


async def _demo_images_reached(stack: Stack, products: int) -> bool:
    return await _demo_images(stack) >= products


async def test_a_product_shows_an_uploaded_image_which_then_cannot_be_deleted(stack: Stack, admin: User) -> None:
    image = await _upload(stack, admin, picture(500, 300, seed=200, fmt="PNG"))
    product = await _first_product(stack)
    patched = await stack.client.patch(
        f"/api/catalog/products/{product['id']}", json={"images": [image["id"]]}, headers=admin.headers
    )
    assert patched.status_code == 200, patched.text
    shown = (await stack.client.get(f"/api/catalog/products/{product['id']}")).json()
    assert shown["images"] == [image["id"]]
    assert (await stack.client.get(image_url(shown["images"][0]))).status_code == 200
    assert (await stack.client.get(image_url(shown["images"][0], "large"))).status_code == 200

    async def in_use() -> bool:
        async with stack.context("media").sessions() as session:
            return await MediaRepository(session).products_using(image["id"]) == [product["id"]]

    await eventually(in_use, within=DEADLINE)
    refused = await stack.client.delete(f"{API}/images/{image['id']}", headers=admin.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["products"] == [product["id"]]
    assert (await stack.client.get(f"{API}/images/{image['id']}/meta")).status_code == 200

    # once the product no longer shows it, it can go
    restored = await stack.client.patch(
        f"/api/catalog/products/{product['id']}", json={"images": product["images"]}, headers=admin.headers
    )
    assert restored.status_code == 200, restored.text

    async def deletable() -> bool:
        response = await stack.client.delete(f"{API}/images/{image['id']}", headers=admin.headers)
        return response.status_code == 204

    await eventually(deletable, within=DEADLINE)


async def test_the_catalog_refuses_media_ids_media_does_not_hold(stack: Stack, admin: User) -> None:
    customer = await stack.register()
    avatar = await _upload(stack, customer, picture(64, 64, seed=201), purpose="avatar")
    product = await _first_product(stack)
    before = await _catalog_products(stack)
    unknown = str(uuid.uuid4())
    body = {
        "sku": "MEDIA-REF-1",
        "name": "Framed print",
        "price": {"amount": 1999, "currency": "USD"},
        "category": product["category"]["slug"],
    }
    for images, index in (([unknown], 0), (["https://cdn.example.com/a.jpg", avatar["id"]], 1)):
        created = await stack.client.post(
            "/api/catalog/products", json={**body, "images": images}, headers=admin.headers
        )
        assert created.status_code == 422, created.text
        assert created.headers["content-type"] == "application/problem+json"
        assert [error["field"] for error in created.json()["errors"]] == [f"body.images.{index}"]
        patched = await stack.client.patch(
            f"/api/catalog/products/{product['id']}", json={"images": images}, headers=admin.headers
        )
        assert patched.status_code == 422, patched.text
    assert await _catalog_products(stack) == before
    assert (await stack.client.get(f"/api/catalog/products/{product['id']}")).json() == product


async def test_media_gc_removes_orphans_and_keeps_used_objects(stack: Stack, admin: User) -> None:
    context = stack.context("media")
    store = store_of(context)
    used = await _upload(stack, admin, picture(120, 90, seed=202))
    orphan_sha = hashlib.sha256(b"an upload whose transaction never committed").hexdigest()
    orphan = object_key(orphan_sha, "original.png")
    await store.put(orphan, picture(10, 10, seed=203, fmt="PNG"), content_type="image/png")

    fresh = await collect_orphans(context)  # the default grace period protects a fresh object
    assert orphan not in fresh.objects_removed
    dry = await collect_orphans(context, grace=timedelta(0), dry_run=True)
    assert orphan in dry.objects_removed
    assert await store.exists(orphan)

    report = await collect_orphans(context, grace=timedelta(0))
    assert orphan in report.objects_removed
    assert not {object_key(used["sha256"], name) for name in ("original.jpg", "small.webp", "large.webp")} & set(
        report.objects_removed
    )
    assert not await store.exists(orphan)
    for name in ("original.jpg", "small.webp", "large.webp"):
        assert await store.exists(object_key(used["sha256"], name))
    assert (await stack.client.get(used["url"])).status_code == 200


async def test_media_gc_can_remove_unused_product_images(stack: Stack, admin: User) -> None:
    context = stack.context("media")
    unused = await _upload(stack, admin, picture(120, 90, seed=204))
    product = await _first_product(stack)
    report = await collect_orphans(context, grace=timedelta(0), unused_products=True)
    assert unused["id"] in report.images_removed
    assert product["images"][0] not in report.images_removed  # shown by a product: kept
    assert (await stack.client.get(f"{API}/images/{unused['id']}/meta")).status_code == 404
    assert not await store_of(context).exists(object_key(unused["sha256"], "original.jpg"))
    assert (await stack.client.get(image_url(product["images"][0]))).status_code == 200
