"""Saving and restoring what is not a database: media objects and the carts in Redis.

Media objects go into one tar file (named by their keys), read and written through the media
service's own object store, so a local directory and an S3 bucket are saved the same way and a
backup of one restores into the other. Carts are written one JSON line each (owner key, lines,
time to live), readable by any Redis version, unlike DUMP's payloads.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agora.backup._plan import Store

#: Objects fetched or stored at once (an S3 round trip each).
_CONCURRENCY = 16
_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

Advance = Callable[[int], None]


def _object_store(store: Store) -> Any:
    from agora.services.media.storage import create_store

    return create_store(store.options["settings"], store.options["platform"])


async def save_media(store: Store, target: Path, *, total: Callable[[int], None], advance: Advance) -> int:
    """Every object under ``images/`` into the tar file ``target``; returns how many."""
    objects = _object_store(store)
    try:
        keys = [item.key async for item in objects.list_keys("images/")]
        total(len(keys))
        with tarfile.open(target, "w") as archive:
            for start in range(0, len(keys), _CONCURRENCY):
                batch = keys[start : start + _CONCURRENCY]
                contents = await asyncio.gather(*(objects.get(key) for key in batch))
                for key, data in zip(batch, contents, strict=True):
                    if data is None:  # removed (media-gc) between the listing and the read
                        continue
                    member = tarfile.TarInfo(key)
                    member.size = len(data)
                    archive.addfile(member, io.BytesIO(data))
                advance(len(batch))
        return len(keys)
    finally:
        await objects.close()


def media_keys(source: Path) -> list[str]:
    """The keys in a media tar file, each checked to be a media object key (a member named
    ``../x`` or a link is refused before anything is written)."""
    from agora.services.media.storage import object_key, sha_of_key

    keys = []
    with tarfile.open(source, "r") as archive:
        for member in archive.getmembers():
            sha = sha_of_key(member.name)
            if not member.isfile() or sha is None or object_key(sha, member.name.rsplit("/", 1)[-1]) != member.name:
                raise ValueError(f"{source} holds {member.name!r}, which is not a media object")
            keys.append(member.name)
    return keys


async def load_media(store: Store, source: Path, *, advance: Advance) -> int:
    """Puts every object of the tar file into the store (same key, same bytes); returns how many."""
    keys = await asyncio.to_thread(media_keys, source)
    objects = _object_store(store)
    try:
        with tarfile.open(source, "r") as archive:
            for start in range(0, len(keys), _CONCURRENCY):
                batch = keys[start : start + _CONCURRENCY]
                payloads = [_read(archive, key) for key in batch]
                await asyncio.gather(
                    *(
                        objects.put(key, data, content_type=_CONTENT_TYPES[key.rsplit(".", 1)[-1]])
                        for key, data in zip(batch, payloads, strict=True)
                    )
                )
                advance(len(batch))
    finally:
        await objects.close()
    return len(keys)


def _read(archive: tarfile.TarFile, key: str) -> bytes:
    extracted = archive.extractfile(key)
    assert extracted is not None  # checked to be a regular file by media_keys
    return extracted.read()


def _redis(store: Store) -> Any:
    from redis.asyncio import Redis

    return Redis.from_url(store.url, decode_responses=True, socket_timeout=10)


async def save_carts(store: Store, target: Path, *, advance: Advance) -> int:
    """Every cart hash under the cart prefix, with its remaining time to live; returns how many."""
    redis = _redis(store)
    prefix = store.options["prefix"]
    count = 0
    try:
        with target.open("w") as file:
            async for key in redis.scan_iter(match=f"{prefix}*", count=500):
                async with redis.pipeline(transaction=True) as pipe:
                    lines, ttl = await pipe.hgetall(key).pttl(key).execute()
                if not lines:  # expired or emptied since the scan
                    continue
                owner = key.removeprefix(prefix)
                file.write(json.dumps({"owner": owner, "lines": lines, "ttl_ms": ttl if ttl > 0 else None}) + "\n")
                count += 1
                advance(1)
    finally:
        await redis.aclose()
    return count


async def load_carts(store: Store, source: Path, *, advance: Advance) -> int:
    """Replaces every cart under the prefix with the saved ones; returns how many were written."""
    redis = _redis(store)
    prefix = store.options["prefix"]
    count = 0
    try:
        stale = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
        for start in range(0, len(stale), 500):
            await redis.delete(*stale[start : start + 500])
        with source.open() as file:
            for line in file:
                cart = json.loads(line)
                key = f"{prefix}{cart['owner']}"
                async with redis.pipeline(transaction=True) as pipe:
                    pipe.hset(key, mapping=cart["lines"])
                    if cart["ttl_ms"]:
                        pipe.pexpire(key, int(cart["ttl_ms"]))
                    await pipe.execute()
                count += 1
                advance(1)
    finally:
        await redis.aclose()
    return count
