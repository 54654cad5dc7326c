"""An ASGI app on a real uvicorn server on a free loopback port, for tests that need real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from agora.platform.testing.processes import free_port


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """``host:port`` where ``app`` answers until the block ends."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)  # uvicorn offers no event for "listening"; its flag is polled
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
