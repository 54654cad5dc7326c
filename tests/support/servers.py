"""An ASGI app on a real uvicorn server on a free loopback port, for tests that need real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from agora.platform.testing.processes import free_port


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, *, lifespan: str = "auto") -> AsyncIterator[str]:
    """``host:port`` where ``app`` answers until the block ends (``lifespan="off"``: an app whose
    lifespan already runs, such as :func:`running_services`' embedded app)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
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
