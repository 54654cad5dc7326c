"""Upload, fetch, thumbnails, dedupe, listing and deletion, on every database and both stores."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image
from prometheus_client import REGISTRY

from agora.platform.http.app import readiness
from agora.platform.testing.apps import platform_for_tests
from agora.platform.testing.auth import TokenFactory
from agora.services.media import MediaSettings
from agora.services.media.storage import create_store, object_key

from .conftest import API, Media, bearer, s3_settings
from .images import exif_with_orientation_and_gps, picture


async def test_upload_fetch_and_thumbnails(media: Media, admin_token: str) -> None:
    data = picture(1200, 800, seed=1, exif=exif_with_orientation_and_gps())
    response = await media.upload(admin_token, data, purpose="product")
    assert response.status_code == 201, response.text
    image = response.json()
    # EXIF orientation 6 was applied: the stored picture is upright, so its sides are swapped
    assert (image["width"], image["height"]) == (800, 1200)
    assert image["purpose"] == "product"
    assert image["content_type"] == "image/jpeg"
    assert image["url"] == f"{API}/images/{image['id']}"
    assert image["thumbnails"]["small"] == f"{API}/images/{image['id']}/thumbnail?size=small"

    original = await media.fetch(image["url"])
    assert original.status_code == 200
    assert original.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(original.content).hexdigest() == image["sha256"]
    assert len(original.content) == image["size_bytes"]
    with Image.open(io.BytesIO(original.content)) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (800, 1200)
        assert dict(stored.getexif()) == {}  # no orientation, camera or GPS left
        assert "exif" not in stored.info

    for size, box in (("small", 160), ("large", 480)):
        thumb = await media.fetch(image["thumbnails"][size])
        assert thumb.status_code == 200
        assert thumb.headers["content-type"] == "image/webp"
        with Image.open(io.BytesIO(thumb.content)) as small:
            assert small.format == "WEBP"
            assert max(small.size) == box
            assert small.size == (round(box * 2 / 3), box)

    meta = await media.client.get(f"{API}/images/{image['id']}/meta")
    assert meta.status_code == 200
    assert meta.json() == image


async def test_serving_headers_and_conditional_get(media: Media, admin_token: str) -> None:
    image = (await media.upload(admin_token, picture(300, 200, seed=2, fmt="PNG"))).json()
    response = await media.client.get(image["url"])
    if media.store_kind == "s3":
        # presigned: the browser fetches from the bucket; the redirect lives shorter than the signature
        assert response.status_code == 302
        assert response.headers["cache-control"].startswith("private, max-age=")
        assert response.headers["location"].startswith(media.context.settings.s3_endpoint_url)
        fetched = await media.fetch(image["url"])
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == "image/png"
        assert hashlib.sha256(fetched.content).hexdigest() == image["sha256"]
        return
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{image["sha256"]}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == "inline"
    again = await media.client.get(image["url"], headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    thumb = await media.client.get(image["thumbnails"]["large"])
    assert thumb.headers["etag"] == f'"{image["sha256"]}-large"'
    assert (
        await media.client.get(image["thumbnails"]["large"], headers={"If-None-Match": thumb.headers["etag"]})
    ).status_code == 304


def _uploads(outcome: str) -> float:
    return REGISTRY.get_sample_value("agora_media_uploads_total", {"outcome": outcome}) or 0.0


async def test_the_same_bytes_are_stored_once(media: Media, token_factory: TokenFactory) -> None:
    ada = token_factory(subject="ada-dedupe", roles=("customer",))
    bob = token_factory(subject="bob-dedupe", roles=("customer",))
    data = picture(400, 400, seed=3, fmt="WEBP")
    before = await media.state()
    counted = {outcome: _uploads(outcome) for outcome in ("stored", "duplicate")}

    first = await media.upload(ada, data, purpose="avatar", filename="me.webp")
    assert first.status_code == 201, first.text
    second = await media.upload(ada, data, purpose="avatar", filename="again.webp")
    assert second.status_code == 200
    assert second.json() == first.json()
    other = await media.upload(bob, data, purpose="avatar")
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["sha256"] == first.json()["sha256"]
    assert other.json()["owner_id"] == "bob-dedupe"
    assert _uploads("stored") - counted["stored"] == 2
    assert _uploads("duplicate") - counted["duplicate"] == 1

    after = await media.state()
    assert after["rows"] == before["rows"] + 2
    new_keys = sorted(set(after["keys"]) - set(before["keys"]))
    sha = first.json()["sha256"]
    # one original and two thumbnails, shared by both owners' rows
    assert new_keys == [f"images/{sha[:2]}/{sha}/{name}" for name in ("large.webp", "original.webp", "small.webp")]


async def test_listing_is_per_owner(media: Media, token_factory: TokenFactory, admin_token: str) -> None:
    carol = token_factory(subject="carol-list", roles=("customer",))
    ids = []
    for seed in range(3):
        response = await media.upload(carol, picture(64, 64, seed=40 + seed), purpose="avatar")
        ids.append(response.json()["id"])
    page = await media.client.get(f"{API}/images", params={"limit": 2}, headers=bearer(carol))
    assert page.status_code == 200
    body = page.json()
    assert [item["id"] for item in body["items"]] == ids[::-1][:2]
    rest = await media.client.get(
        f"{API}/images", params={"limit": 2, "cursor": body["next_cursor"]}, headers=bearer(carol)
    )
    assert [item["id"] for item in rest.json()["items"]] == [ids[0]]
    assert rest.json()["next_cursor"] is None
    mine = await media.client.get(f"{API}/images", params={"owner": "me"}, headers=bearer(admin_token))
    assert all(item["owner_id"] != "carol-list" for item in mine.json()["items"])
    everyone = await media.client.get(f"{API}/images", params={"purpose": "avatar"}, headers=bearer(admin_token))
    assert {item["owner_id"] for item in everyone.json()["items"]} >= {"carol-list"}


async def test_owners_delete_their_own_and_nobody_elses(media: Media, token_factory: TokenFactory) -> None:
    alice = token_factory(subject="alice-delete", roles=("customer",))
    mallory = token_factory(subject="mallory-delete", roles=("customer",))
    image = (await media.upload(alice, picture(80, 80, seed=50), purpose="avatar")).json()
    before = await media.state()

    refused = await media.client.delete(f"{API}/images/{image['id']}", headers=bearer(mallory))
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert await media.state() == before
    hidden = await media.client.get(f"{API}/images/{image['id']}/meta", headers=bearer(mallory))
    assert hidden.status_code == 404

    deleted = await media.client.delete(f"{API}/images/{image['id']}", headers=bearer(alice))
    assert deleted.status_code == 204
    assert (await media.client.get(f"{API}/images/{image['id']}/meta", headers=bearer(alice))).status_code == 404
    assert (await media.client.get(image["url"])).status_code == 404


async def test_readiness_names_the_object_store(media: Media) -> None:
    checks = await readiness(media.context)
    # the chassis's own checks (database, broker, start-up events) come first; media adds its store
    assert checks == {"database": "ok", "broker": "ok", "events": "ok", "object_store": "ok"}


async def test_a_probe_that_gives_up_does_not_cancel_the_s3_connection(moto_url: str) -> None:
    settings = MediaSettings(**s3_settings(moto_url))
    store = create_store(settings, platform_for_tests(Path("var")))
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(store.ping(), 0.000_001)  # gives up while the client is being made
        # the connection attempt it started was not cancelled with it: later callers share it
        opening = store._opening  # type: ignore[attr-defined]
        assert opening is not None
        await asyncio.wait_for(asyncio.shield(opening), 30)
        assert not opening.cancelled()
        await store.ping()
        await store.put(object_key("a" * 64, "small.webp"), b"x", content_type="image/webp")
        assert await store.get(object_key("a" * 64, "small.webp")) == b"x"
    finally:
        await store.close()


async def test_an_image_the_catalog_is_attaching_cannot_be_deleted(media: Media, admin_token: str) -> None:
    # the catalog's check claims the image; the product's event (which protects it for good) may
    # still be queued behind others, so the claim alone must already refuse a delete
    claimed = (await media.upload(admin_token, picture(90, 60, seed=60))).json()
    free = (await media.upload(admin_token, picture(90, 60, seed=61))).json()
    unknown = "00000000-0000-4000-8000-000000000000"
    looked_up = await media.client.post(
        f"{API}/lookup", json={"ids": [claimed["id"], unknown], "claim": True}, headers=bearer(admin_token)
    )
    assert looked_up.status_code == 200, looked_up.text
    assert looked_up.json()["items"] == [{"id": claimed["id"], "purpose": "product"}]
    just_asked = await media.client.post(f"{API}/lookup", json={"ids": [free["id"]]}, headers=bearer(admin_token))
    assert just_asked.json()["items"] == [{"id": free["id"], "purpose": "product"}]

    before = await media.state()
    refused = await media.client.delete(f"{API}/images/{claimed['id']}", headers=bearer(admin_token))
    assert refused.status_code == 409, refused.text
    assert refused.json()["products"] == []
    assert await media.state() == before
    assert (await media.client.delete(f"{API}/images/{free['id']}", headers=bearer(admin_token))).status_code == 204


async def test_lookup_is_for_services_and_admins(media: Media, token_factory: TokenFactory, admin_token: str) -> None:
    customer = token_factory(subject="customer-lookup", roles=("customer",))
    ids = {"ids": ["00000000-0000-4000-8000-000000000000"]}
    assert (await media.client.post(f"{API}/lookup", json=ids)).status_code == 401
    assert (await media.client.post(f"{API}/lookup", json=ids, headers=bearer(customer))).status_code == 403
    bad = await media.client.post(f"{API}/lookup", json={"ids": ["../x"]}, headers=bearer(admin_token))
    assert bad.status_code == 422
    assert [error["field"] for error in bad.json()["errors"]] == ["body.ids.0"]
