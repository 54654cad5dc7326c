"""``agora doctor``: reach every configured backend and report, per backend, what is wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from agora.platform.db import create_engine
from agora.platform.messaging import create_transport
from agora.platform.service import ServiceSpec
from agora.platform.settings import PlatformSettings, load_settings

TIMEOUT = 5.0

Result = tuple[str, str, str | None]


async def _attempt(check: Callable[[], Awaitable[Any]]) -> str | None:
    try:
        await asyncio.wait_for(check(), TIMEOUT)
    except TimeoutError:
        return f"no answer within {TIMEOUT:g}s"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    return None


async def _database(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def _broker(url: str) -> None:
    transport = create_transport(url)
    await transport.start()
    try:
        await transport.ping()
    finally:
        await transport.close()


async def _redis(url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def run_checks(specs: Sequence[ServiceSpec], platform: PlatformSettings) -> list[Result]:
    checks: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = []
    for spec in specs:
        url = load_settings(spec.settings_cls).resolved_database_url(platform)
        shown = make_url(url).render_as_string(hide_password=True)
        checks.append((f"{spec.name} database", shown, partial(_database, url)))
    checks.append(("broker", platform.broker_url, lambda: _broker(platform.broker_url)))
    if platform.redis_url:
        checks.append(("redis", platform.redis_url, lambda: _redis(platform.redis_url or "")))
    if platform.jwks_file is not None:
        path = platform.jwks_file

        async def jwks_file() -> None:
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist")

        checks.append(("token keys (JWKS file)", str(path), jwks_file))
    problems = await asyncio.gather(*(_attempt(check) for _, _, check in checks))
    return [(name, target, problem) for (name, target, _), problem in zip(checks, problems, strict=True)]
