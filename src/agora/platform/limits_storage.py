"""Storages for the ``limits`` library (login throttle, message rate limits) from a URL.

``limits``' async Redis storage imports every client it knows (redis-py, coredis, valkey) when it
is built, whichever one it then talks through; coredis loads beartype and NumPy, ~25 MiB resident
for the life of the process. The storage here talks through redis-py, which the platform uses
anyway, and names only redis-py as its dependency, so the others are never imported. Every other
URL (``async+memory://``, memcached, ...) goes to ``limits`` unchanged.
"""

from __future__ import annotations

from typing import Any

from limits.aio.storage import RedisStorage
from limits.storage import storage_from_string

from agora.platform.imports import import_redis

_REDIS_SCHEMES = ("async+redis://", "async+rediss://")


class _RedisPyStorage(RedisStorage):
    # no STORAGE_SCHEME: this class does not replace RedisStorage in limits' scheme registry
    DEPENDENCIES = {"redis": RedisStorage.DEPENDENCIES["redis"]}


def limits_storage(url: str, **options: Any) -> Any:
    """The ``limits`` storage for ``url``; Redis through redis-py (see the module docstring)."""
    if url.startswith(_REDIS_SCHEMES):
        import_redis()  # before limits imports it: see agora.platform.imports
        return _RedisPyStorage(url, implementation="redispy", **options)
    return storage_from_string(url, **options)


__all__ = ["limits_storage"]
