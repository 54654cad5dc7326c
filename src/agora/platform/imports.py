"""Importing a library without the optional parts of it that Agora never uses.

Several libraries import extras when they are available, at import, and keep them for the life
of the process: nats-py its WebSocket transport (aiohttp, ~15 MiB resident), httpx its command-
line client (click, rich, pygments) and structlog its rich tracebacks. Imported inside
:func:`hidden`, such a library sees the extra as not installed and goes without it. The extra
itself stays importable afterwards for whoever really uses it (the CLI draws with rich, media
talks to S3 through aiohttp): only the first import of the library is affected, and a process
that loaded the extra already keeps it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


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


__all__ = ["hidden"]
