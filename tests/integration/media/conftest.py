"""The media service in-process on each database backend and each object store (local, moto S3)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.platform.testing.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, running_moto_server
from agora.services.media import MediaSettings, spec
from agora.services.media.models import Image
from agora.services.media.runtime import store_of

API = "/api/media"
MIB = 1024 * 1024
#: The media upload limit in these tests (the chassis body limit follows it).
MAX_UPLOAD = 2 * MIB


@pytest.fixture(scope="package")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


def s3_settings(moto_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "s3_bucket": f"media-{uuid.uuid4().hex[:12]}",
        "s3_endpoint_url": moto_url,
        "s3_access_key_id": ACCESS_KEY_ID,
        "s3_secret_access_key": SECRET_ACCESS_KEY,
        **overrides,
    }


@pytest.fixture(params=["local", "s3"], scope="module")
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Media:
    client: httpx.AsyncClient
    embedded: Any
    store_kind: str

    @property
    def context(self) -> Any:
        return self.embedded.contexts["media"]

    @property
    def store(self) -> Any:
        return store_of(self.context)

    async def state(self) -> dict[str, Any]:
        """The image rows and stored keys: what "nothing stored" is checked against."""
        async with self.context.sessions() as session:
            rows = int(await session.scalar(select(func.count()).select_from(Image)) or 0)
        keys = sorted([item.key async for item in self.store.list_keys()])
        return {"rows": rows, "keys": keys}

    async def upload(
        self, token: str, data: bytes, *, purpose: str = "product", filename: str = "photo.jpg"
    ) -> httpx.Response:
        return await self.client.post(
            f"{API}/images",
            files={"file": (filename, data, "image/jpeg")},
            data={"purpose": purpose},
            headers=bearer(token),
        )

    async def fetch(self, url: str, **headers: str) -> httpx.Response:
        """GET through the service; a 302 to a presigned S3 URL is followed to the store."""
        response = await self.client.get(url, headers=headers)
        if response.status_code == 302:
            async with httpx.AsyncClient() as outside:
                return await outside.get(response.headers["location"])
        return response


@pytest.fixture(scope="module")
async def media(
    database_backend: str, store_kind: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory, request: Any
) -> AsyncIterator[Media]:
    tmp = tmp_path_factory.mktemp("media")
    platform = platform_for_tests(tmp, jwks_file=jwks_file)
    store = s3_settings(request.getfixturevalue("moto_url")) if store_kind == "s3" else {}
    # a fresh database per (backend, store): both stores start from no images
    async with service_databases(database_backend, ["media"], tmp) as urls:
        settings = {"media": MediaSettings(database_url=urls["media"], max_upload_bytes=MAX_UPLOAD, **store)}
        async with running_services([spec], platform, settings) as (client, embedded):
            yield Media(client, embedded, store_kind)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
