"""Agora, a cloud-native commerce platform.

Two libraries that every Agora process imports are imported here, first, without extras that
no server uses (see :mod:`agora.platform.imports`): httpx without its command-line client
(click, rich and pygments), structlog without rich tracebacks (console logs then show plain
tracebacks; JSON logs, the default, never used rich). About 5 MiB resident less in each
process, sixteen of them in the distributed set. The CLI imports rich itself when it draws.

uvicorn (every service serves on it; the service clients use its proxy-headers middleware) is
imported here without ``watchfiles``, which it loads at import for ``--reload`` alone (its Rust
watcher, ~1.2 MiB resident); no Agora process reloads, and uvicorn's reloader would fall back
to polling file times without it.
"""

from agora.platform.imports import hidden

with hidden("rich", "httpx._main", "watchfiles"):
    import httpx  # noqa: F401
    import structlog  # noqa: F401
    import uvicorn  # noqa: F401
