"""What one user may upload: pixels per purpose, the upload rate, the quota of images and bytes.

Every refusal is a problem naming what was exceeded, and leaves no row and no object behind.
The service runs with small limits here (five uploads a minute, two avatars, 64 KB of avatars).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.databases import service_databases
from agora.services.media import MediaSettings, spec

from .conftest import API, Media, bearer
from .images import picture, png_bomb

RATE = 5
AVATARS = 2
AVATAR_BYTES = 64 * 1024


@pytest.fixture(scope="module")
async def limited(
    database_backend: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Media]:
    tmp = tmp_path_factory.mktemp("media-limits")
    platform = platform_for_tests(tmp, jwks_file=jwks_file)
    async with service_databases(database_backend, ["media"], tmp) as urls:
        settings = MediaSettings(
            database_url=urls["media"],
            upload_rate=RATE,
            upload_rate_window_seconds=60,
            avatar_quota_images=AVATARS,
            avatar_quota_bytes=AVATAR_BYTES,
        )
        async with running_services([spec], platform, {"media": settings}) as (client, embedded):
            yield Media(client, embedded, "local")


def user(token_factory: TokenFactory, *, roles: tuple[str, ...] = ("customer",)) -> str:
    return token_factory(roles=roles, subject=f"user-{uuid.uuid4().hex[:12]}")


def noise(width: int, height: int, *, seed: int) -> bytes:
    """A JPEG that does not compress away (its thumbnails and original weigh what they say)."""
    image = Image.frombytes("RGB", (width, height), uuid.UUID(int=seed).bytes * (width * height * 3 // 16 + 1))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def assert_problem(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert field in [error["field"] for error in problem.get("errors", [])], problem
    return problem


async def test_uploads_past_the_rate_are_429_and_store_nothing(limited: Media, token_factory: TokenFactory) -> None:
    ada, bob = user(token_factory, roles=("admin",)), user(token_factory, roles=("admin",))
    for seed in range(RATE - 1):
        assert (await limited.upload(ada, picture(64, 64, seed=300 + seed))).status_code == 201
    # a refused upload counts too: the rate is of attempts, whatever they carried
    assert_problem(await limited.upload(ada, b"not an image"), 415, "file")
    before = await limited.state()

    refused = await limited.upload(ada, picture(64, 64, seed=310))
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["limit"] == "uploads"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert problem["retry_after"] == int(refused.headers["retry-after"])
    assert await limited.state() == before

    assert (await limited.upload(bob, picture(64, 64, seed=311))).status_code == 201


async def test_the_quota_of_images_is_413_naming_it_and_a_deletion_frees_it(
    limited: Media, token_factory: TokenFactory
) -> None:
    carol = user(token_factory)
    first = (await limited.upload(carol, picture(64, 64, seed=320), purpose="avatar")).json()
    assert (await limited.upload(carol, picture(64, 64, seed=321), purpose="avatar")).status_code == 201
    before = await limited.state()

    problem = assert_problem(await limited.upload(carol, picture(64, 64, seed=322), purpose="avatar"), 413, "file")
    assert (problem["quota"], problem["limit"], problem["used"]) == ("images", AVATARS, AVATARS)
    assert await limited.state() == before
    # the same picture again is no new image: 200 with the one stored, quota or not
    again = await limited.upload(carol, picture(64, 64, seed=320), purpose="avatar")
    assert (again.status_code, again.json()["id"]) == (200, first["id"])

    deleted = await limited.client.delete(f"{API}/images/{first['id']}", headers=bearer(carol))
    assert deleted.status_code == 204
    assert (await limited.upload(carol, picture(64, 64, seed=322), purpose="avatar")).status_code == 201


async def test_the_quota_of_bytes_is_413_naming_it(limited: Media, token_factory: TokenFactory) -> None:
    dave = user(token_factory)
    small = await limited.upload(dave, picture(64, 64, seed=330), purpose="avatar")
    assert small.status_code == 201
    before = await limited.state()
    # a 1024x1024 picture of noise is kept as it is (avatars are kept at 1024 px): far past 64 KB
    problem = assert_problem(await limited.upload(dave, noise(1024, 1024, seed=331), purpose="avatar"), 413, "file")
    assert (problem["quota"], problem["limit"]) == ("bytes", AVATAR_BYTES)
    assert small.json()["size_bytes"] < problem["used"] < AVATAR_BYTES  # the original and its thumbnails
    assert await limited.state() == before
    # product images have their own (larger) quota: an admin's uploads are not held by avatars
    admin = user(token_factory, roles=("admin",))
    assert (await limited.upload(admin, noise(1024, 1024, seed=332), purpose="product")).status_code == 201


async def test_pixel_limits_depend_on_the_purpose(limited: Media, token_factory: TokenFactory) -> None:
    erin, admin = user(token_factory), user(token_factory, roles=("admin",))
    before = await limited.state()
    # 6300x6300 from the header alone: too many pixels for an avatar, so nothing is decoded
    problem = assert_problem(await limited.upload(erin, png_bomb(6300, 6300), purpose="avatar"), 422, "file")
    assert "6300x6300" in problem["detail"]
    # the same header is within a product image's limits: it is decoded, and found to be damaged
    damaged = assert_problem(await limited.upload(admin, png_bomb(6300, 6300), purpose="product"), 422, "file")
    assert "damaged" in damaged["detail"]
    assert await limited.state() == before


async def test_avatars_are_kept_at_their_side_with_thumbnails(limited: Media, token_factory: TokenFactory) -> None:
    frank = user(token_factory)
    response = await limited.upload(frank, picture(3000, 2000, seed=340), purpose="avatar")
    assert response.status_code == 201, response.text
    image = response.json()
    assert (image["width"], image["height"]) == (1024, 683)
    original = await limited.fetch(image["url"])
    with Image.open(io.BytesIO(original.content)) as stored:
        assert stored.size == (1024, 683)
    for size, box in (("small", 160), ("large", 480)):
        thumbnail = await limited.fetch(image["thumbnails"][size])
        assert thumbnail.status_code == 200
        with Image.open(io.BytesIO(thumbnail.content)) as shown:
            assert (shown.format, max(shown.size)) == ("WEBP", box)


@pytest.mark.backend("redis")
async def test_the_rate_is_counted_in_redis_when_configured(
    redis_url: str, jwks_file: Path, token_factory: TokenFactory, tmp_path: Path
) -> None:
    """Replicas share the counters: two media processes on one Redis allow the rate once between them."""
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file)
    storage = f"async+{redis_url}"
    admin = user(token_factory, roles=("admin",))
    statuses = []
    async with service_databases("sqlite", ["media"], tmp_path) as urls:
        settings = MediaSettings(database_url=urls["media"], upload_rate=2, rate_limit_storage_url=storage)
        for replica in range(2):
            async with running_services([spec], platform, {"media": settings}) as (client, embedded):
                media = Media(client, embedded, "local")
                for seed in range(2):
                    response = await media.upload(admin, picture(32, 32, seed=350 + 2 * replica + seed))
                    statuses.append(response.status_code)
    assert statuses == [201, 201, 429, 429]
