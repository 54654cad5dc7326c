"""Importing a library without the optional parts of it that Agora never uses.

Several libraries import extras when they are available, at import, and keep them for the life
of the process: nats-py its WebSocket transport (aiohttp, ~15 MiB resident), httpx its command-
line client (click, rich, pygments), structlog its rich tracebacks, uvicorn ``watchfiles`` (for
``--reload``) and redis-py OpenTelemetry's metrics SDK (27 modules, ~1.2 MiB, for metrics Agora
does not turn on; see :func:`import_redis`). Imported inside
:func:`hidden`, such a library sees the extra as not installed and goes without it. The extra
itself stays importable afterwards for whoever really uses it (the CLI draws with rich, media
talks to S3 through aiohttp): only the first import of the library is affected, and a process
that loaded the extra already keeps it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


@contextmanager
def hidden(*modules: str) -> Iterator[None]:
    """Imports of ``modules`` fail with ImportError inside the block (those not yet imported)."""
    hiding = [name for name in modules if name not in sys.modules]
    for name in hiding:
        sys.modules[name] = None  # type: ignore[assignment]  # None in sys.modules: ImportError
    try:
        yield
    finally:
        for name in hiding:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


def import_redis() -> ModuleType:
    """``redis.asyncio``, imported (the first time) without OpenTelemetry's metrics SDK.

    Code that talks to Redis through redis-py calls this before importing from ``redis``: the
    processes that never talk to Redis that way do not load it at all (~6 MiB resident), and
    those that do go without the SDK its optional metrics would use.
    """
    with hidden("opentelemetry.sdk.metrics"):
        import redis.asyncio
    return redis.asyncio


def without_pydantic_v1() -> None:
    """Marks ``pydantic.v1`` as not installed for the rest of the process (if not yet imported).

    FastAPI asks, for every route it builds and every value it encodes, whether a type or an
    object is a pydantic.v1 model, by importing ``pydantic.v1`` (23 modules, ~1.4 MiB resident
    per process) and treating ImportError as "no". Agora has no pydantic.v1 model, so a service
    process (``agora serve``) goes without it for good: unlike :func:`hidden`, the answer must
    stay "not installed" for the encoding done at every request. Test processes do not call
    this: libraries they load may still need the module.
    """
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]  # None: ImportError


__all__ = ["hidden", "import_redis", "without_pydantic_v1"]
