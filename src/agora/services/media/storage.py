"""The object store behind one interface: a local directory, or an S3-compatible bucket.

Keys are made here from the content hash (``images/ab/<sha256>/original.jpg``,
``.../small.webp``, ``.../large.webp``); nothing a client sends ever becomes part of a key or a
path. The same bytes always get the same keys, which is how an image uploaded twice (by anyone)
is stored once.

aioboto3 is an optional extra (``agora[s3]``): it is imported only when a bucket is configured.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from agora.platform.http.problems import ServiceUnavailable
from agora.platform.settings import PlatformSettings
from agora.services.media.settings import MediaSettings

log = structlog.get_logger(__name__)

#: Seconds an upload refused by a failing store is told to wait.
STORE_RETRY_AFTER_SECONDS = 5

_KEY = re.compile(r"^images/[0-9a-f]{2}/[0-9a-f]{64}/(?:original\.(?:jpg|png|webp)|small\.webp|large\.webp)$")
_SHA_IN_KEY = re.compile(r"^images/[0-9a-f]{2}/([0-9a-f]{64})/")
CACHE_CONTROL = "public, max-age=31536000, immutable"


class StoreUnavailable(ServiceUnavailable):
    """503: the object store refused a write (a full or read-only disk, S3 unreachable or failing).

    The image's row is written after its objects, so nothing refers to what was not stored; an
    object written before the failure is an orphan ``agora media-gc`` removes.
    """

    def __init__(self, cause: BaseException) -> None:
        log.warning("media_store_write_failed", error=f"{type(cause).__name__}: {cause}"[:300])
        super().__init__(
            "The image store cannot take new images right now; nothing was stored. Try again later.",
            extra={"retry_after": STORE_RETRY_AFTER_SECONDS},
            headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        )


def object_key(sha256: str, name: str) -> str:
    """The key of one object of an image: ``name`` is ``original.<ext>``, ``small.webp`` or ``large.webp``."""
    key = f"images/{sha256[:2]}/{sha256}/{name}"
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a media object key: {key!r}")
    return key


def sha_of_key(key: str) -> str | None:
    match = _SHA_IN_KEY.match(key)
    return match.group(1) if match else None


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class ObjectStore(Protocol):
    """Where image bytes live. Every method takes a server-made key (see :func:`object_key`)."""

    kind: str

    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    def list_keys(self, prefix: str = "images/") -> AsyncIterator[StoredObject]: ...

    async def presigned_url(self, key: str, *, expires_in: int, content_type: str) -> str | None:
        """A time-limited URL a browser can GET the object from, or None when the store has none."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a media object key: {key!r}")
    return key


class LocalObjectStore:
    """A directory: each object a file, written to a temporary file and renamed (never half-written)."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        try:
            await asyncio.to_thread(self._write, self._path(key), data)
        except OSError as exc:  # a full disk, a read-only or immutable directory, a lost mount
            raise StoreUnavailable(exc) from exc

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    def _scan(self, prefix: str) -> list[StoredObject]:
        base = self.root / "images"
        found: list[StoredObject] = []
        if not base.is_dir():
            return found
        for path in base.rglob("*"):
            if not path.is_file() or path.name.startswith(".upload-"):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                found.append(StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
        return found

    async def list_keys(self, prefix: str = "images/") -> AsyncIterator[StoredObject]:
        for item in await asyncio.to_thread(self._scan, prefix):
            yield item

    async def presigned_url(self, key: str, *, expires_in: int, content_type: str) -> str | None:
        return None

    async def ping(self) -> None:
        await asyncio.to_thread(self._ping)

    def _ping(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"{self.root} is not writable")

    async def close(self) -> None:
        return None


class S3ObjectStore:
    """An S3-compatible bucket through aioboto3 (MinIO in compose, moto in tests, AWS in the cloud).

    The client is opened on first use and the bucket created then if it is missing.
    """

    kind = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        public_endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
    ) -> None:
        self.bucket = bucket
        self._options: dict[str, Any] = {
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
        }
        self._endpoint_url = endpoint_url
        self._public_endpoint_url = public_endpoint_url or endpoint_url
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._presigner: Any = None
        self._opening: asyncio.Future[Any] | None = None

    async def _open(self) -> Any:
        if self._client is not None:
            return self._client
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._connect())
        opening = self._opening
        try:
            # shielded: a caller that gives up (a readiness probe's 2 s timeout while aioboto3 is
            # still importing) must not cancel the connection every later caller waits for
            return await asyncio.shield(opening)
        except Exception:
            if self._opening is opening and opening.done():
                self._opening = None  # failed: the next call tries again
            raise

    async def _connect(self) -> Any:
        import aioboto3
        from botocore.config import Config

        session = aioboto3.Session()
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
        stack = AsyncExitStack()
        try:
            client = await stack.enter_async_context(
                session.client("s3", endpoint_url=self._endpoint_url, config=config, **self._options)
            )
            presigner = client
            if self._public_endpoint_url != self._endpoint_url:
                presigner = await stack.enter_async_context(
                    session.client("s3", endpoint_url=self._public_endpoint_url, config=config, **self._options)
                )
            await self._ensure_bucket(client)
        except BaseException:
            await stack.aclose()
            raise
        self._stack, self._client, self._presigner = stack, client, presigner
        return client

    async def _ensure_bucket(self, client: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            await client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            await client.create_bucket(Bucket=self.bucket)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client = await self._open()
            await client.put_object(
                Bucket=self.bucket,
                Key=_checked(key),
                Body=data,
                ContentType=content_type,
                CacheControl=CACHE_CONTROL,
                ContentDisposition="inline",
            )
        except (BotoCoreError, ClientError, OSError) as exc:  # unreachable, refusing, out of space
            raise StoreUnavailable(exc) from exc

    async def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        client = await self._open()
        try:
            response = await client.get_object(Bucket=self.bucket, Key=_checked(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def exists(self, key: str) -> bool:
        """Asked before a write (an object is stored once): a store that does not answer refuses it."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client = await self._open()
            await client.head_object(Bucket=self.bucket, Key=_checked(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise StoreUnavailable(exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise StoreUnavailable(exc) from exc
        return True

    async def delete(self, key: str) -> None:
        client = await self._open()
        await client.delete_object(Bucket=self.bucket, Key=_checked(key))

    async def list_keys(self, prefix: str = "images/") -> AsyncIterator[StoredObject]:
        client = await self._open()
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                modified = item["LastModified"]
                if modified.tzinfo is None:
                    modified = modified.replace(tzinfo=UTC)
                yield StoredObject(item["Key"], int(item["Size"]), modified)

    async def presigned_url(self, key: str, *, expires_in: int, content_type: str) -> str | None:
        await self._open()
        url: str = await self._presigner.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": _checked(key), "ResponseContentType": content_type},
            ExpiresIn=expires_in,
        )
        return url

    async def ping(self) -> None:
        client = await self._open()
        await client.head_bucket(Bucket=self.bucket)

    async def close(self) -> None:
        opening, self._opening = self._opening, None
        if opening is not None and not opening.done():
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
        self._client = None
        await self._stack.aclose()
        self._stack = AsyncExitStack()


def create_store(settings: MediaSettings, platform: PlatformSettings) -> ObjectStore:
    """The store the settings name: S3 when a bucket is set, else the local directory."""
    if settings.s3_bucket:
        return S3ObjectStore(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            public_endpoint_url=settings.s3_public_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
            secret_access_key=(
                settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
            ),
        )
    return LocalObjectStore(settings.resolved_local_dir(platform))


__all__ = [
    "CACHE_CONTROL",
    "LocalObjectStore",
    "ObjectStore",
    "S3ObjectStore",
    "StoreUnavailable",
    "StoredObject",
    "create_store",
    "object_key",
    "sha_of_key",
]
