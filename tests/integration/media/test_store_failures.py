"""The object store fails a write (an immutable or full directory, an S3 endpoint that does not
answer): the upload is a 503 problem with Retry-After and stores no row; the next upload after
the store recovers works, with no restart. Before the fix these were 500s (tests/faults found it)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.databases import service_databases
from agora.platform.testing.processes import free_port
from agora.services.media import MediaSettings, spec

from .conftest import Media, s3_settings
from .images import picture


@pytest.fixture
async def local_media(jwks_file: Path, tmp_path: Path) -> AsyncIterator[Media]:
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file)
    async with service_databases("sqlite", ["media"], tmp_path) as urls:
        settings = MediaSettings(database_url=urls["media"], local_dir=tmp_path / "store")
        async with running_services([spec], platform, {"media": settings}) as (client, embedded):
            yield Media(client, embedded, "local")


def immutable(directory: Path, on: bool) -> None:
    """Even root cannot add an entry to an immutable directory (chmod would not stop root)."""
    subprocess.run(["chattr", "-R", "+i" if on else "-i", str(directory)], check=True, timeout=30)


def admin(token_factory: TokenFactory) -> str:
    return token_factory(roles=("admin",), subject=f"admin-{uuid.uuid4().hex[:12]}")


def assert_store_unavailable(response: object) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.headers["retry-after"] == "5"  # type: ignore[attr-defined]
    assert "nothing was stored" in response.json()["detail"]  # type: ignore[attr-defined]


async def test_an_unwritable_directory_is_a_503_and_stores_nothing(
    local_media: Media, token_factory: TokenFactory, tmp_path: Path
) -> None:
    token = admin(token_factory)
    assert (await local_media.upload(token, picture(64, 64, seed=1))).status_code == 201
    before = await local_media.state()
    immutable(tmp_path / "store", True)
    try:
        assert_store_unavailable(await local_media.upload(token, picture(64, 64, seed=2)))
    finally:
        immutable(tmp_path / "store", False)
    assert await local_media.state() == before
    assert (await local_media.upload(token, picture(64, 64, seed=2))).status_code == 201


async def test_an_s3_endpoint_that_does_not_answer_is_a_503(
    jwks_file: Path, tmp_path: Path, token_factory: TokenFactory
) -> None:
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file)
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: every S3 call is refused
    async with service_databases("sqlite", ["media"], tmp_path) as urls:
        settings = MediaSettings(database_url=urls["media"], **s3_settings(nowhere))
        async with running_services([spec], platform, {"media": settings}) as (client, embedded):
            media = Media(client, embedded, "s3")
            assert_store_unavailable(await media.upload(admin(token_factory), picture(64, 64, seed=3)))
