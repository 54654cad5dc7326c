"""The process was asked to stop: long-lived responses end now.

On SIGTERM/SIGINT uvicorn stops accepting connections, then waits up to the grace period for the
open ones to finish before the lifespan shutdown runs. A Server-Sent Events stream or a WebSocket
never finishes by itself, so each open browser tab would hold the shutdown for the whole grace
period. The server calls :func:`announce` from its signal handler; code holding such streams
registers a hook with :func:`on_stopping` (the fan-out ends its subscriptions, so SSE responses
complete and WebSocket handlers close with 1012 "service restart").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

_hooks: dict[Callable[[], None], asyncio.AbstractEventLoop] = {}


def on_stopping(hook: Callable[[], None]) -> None:
    """Run ``hook`` (on the current event loop) when the process is asked to stop; idempotent."""
    _hooks[hook] = asyncio.get_running_loop()


def forget(hook: Callable[[], None]) -> None:
    _hooks.pop(hook, None)


def announce() -> None:
    """Called from the server's signal handler (any thread): schedules every hook on its loop."""
    for hook, loop in list(_hooks.items()):
        if not loop.is_closed():
            loop.call_soon_threadsafe(hook)
