"""``agora serve NAME``: one service in its own process, on uvicorn.

The command line is :mod:`agora.cli` (typer); what serving needs is here, so that a process
started as ``python -m agora serve NAME [--port N] [--host H] [--data-dir D] [--no-migrate]``
(every child of ``agora up --distributed``, the images' services) can serve without building the
command line: :func:`serve_from_argv` recognises exactly those arguments and serves, and anything
else (``--help``, a mistake) goes to typer, which says what is wrong. typer and the command
module are ~1-2 MiB resident per process, sixteen processes in the distributed set.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agora.platform.settings import Mode, PlatformSettings, load_settings

DEFAULT_HOST = "127.0.0.1"


class CommandError(Exception):
    """A failure the user can fix; printed as one line."""


def platform_settings(data_dir: Path | None = None, **overrides: Any) -> PlatformSettings:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    platform = load_settings(PlatformSettings, **overrides)
    from agora.platform.observability.logging import configure_logging

    # before anything logs (migrations, seeding): every line on stdout is JSON from the start
    configure_logging(level=platform.log_level, json=platform.log_json, service="agora")
    return platform


def require_real_broker(platform: PlatformSettings) -> None:
    """Distributed mode refuses the in-process broker: each process would have its own, and no
    event would ever reach another service (catalog's products would never become stock)."""
    if platform.broker_url.split(":", 1)[0] in ("memory", ""):
        raise CommandError(
            "distributed mode needs a real broker: set AGORA_BROKER_URL (e.g. nats://127.0.0.1:4222, "
            "redis://127.0.0.1:6379/0, kafka://127.0.0.1:9092); memory:// cannot carry events between processes"
        )


def serve_app(
    asgi_app: Any, host: str, port: int, platform: PlatformSettings, *, edge: bool, websockets: bool = True
) -> None:
    """``edge``: this process faces clients directly (``agora up``, the front proxy), so a
    client's X-Forwarded-For is not believed; a service behind the front or an ingress trusts
    the forwarding header from ``AGORA_TRUSTED_PROXIES`` only. ``websockets``: whether the app
    accepts any (see :func:`server_config`)."""
    from agora.platform.observability.logging import configure_logging

    configure_logging(level=platform.log_level, json=platform.log_json, service="agora")
    config = server_config(asgi_app, host, port, platform, edge=edge, websockets=websockets)
    # spans still batched are flushed by each service's lifespan on the way out
    signal.signal(signal.SIGTERM, _exit_cleanly)
    _Server(config).run()


def server_config(
    asgi_app: Any, host: str, port: int, platform: PlatformSettings, *, edge: bool, websockets: bool = True
) -> Any:
    """uvicorn's configuration for :func:`serve_app`. Without ``websockets``, uvicorn runs without
    its WebSocket protocol (and answers an upgrade as plain HTTP): its default ("auto") imports
    the ``websockets`` library (~0.5 MiB, 17 modules) into every process, and only support (its
    chat), the front and embedded ``agora up`` (which proxy or hold it) accept WebSockets."""
    import uvicorn

    return uvicorn.Config(
        asgi_app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,  # the chassis writes one structured access line per request
        timeout_graceful_shutdown=int(platform.shutdown_grace_seconds),
        server_header=False,
        lifespan="on",
        ws="auto" if websockets else "none",
        proxy_headers=not edge,
        forwarded_allow_ips=platform.trusted_proxies,
    )


def _exit_cleanly(signum: int, frame: Any) -> None:
    """SIGTERM outside the server loop. uvicorn catches the stop signal, shuts down gracefully,
    then raises the signal again: with the default action that ends the process as "killed by
    SIGTERM" (status 143 in a container, a failure to orchestrators). This handler turns that
    second signal, and one arriving before the server runs, into a clean exit (status 0)."""
    raise SystemExit(0)


def _stopping_server_class() -> type[Any]:
    import uvicorn

    from agora.platform import stopping

    class StoppingServer(uvicorn.Server):
        """Tells open streams (SSE, WebSockets) to end as soon as the stop signal arrives, so the
        graceful shutdown waits for requests in flight, not for browser tabs."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            stopping.announce()
            super().handle_exit(sig, frame)

    return StoppingServer


def _Server(config: Any) -> Any:
    return _stopping_server_class()(config)


def serves_websockets(app: Any) -> bool:
    """Whether a service's FastAPI ``app`` has a WebSocket route, in included routers and mounted
    apps too (found as FastAPI's OpenAPI generation walks them). A mounted app whose routes cannot
    be read is taken to accept WebSockets; static files are HTTP only."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Host, Mount, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    if isinstance(app, StaticFiles):
        return False
    routes = getattr(app, "routes", None)
    if routes is None:
        return True
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, WebSocketRoute):
            return True
        if isinstance(route, Mount | Host) and serves_websockets(route.app):
            return True
    return False


def serve_spec(spec: Any, *, port: int | None, host: str, data_dir: Path | None, migrate: bool) -> None:
    """Serves the service of ``spec`` (``agora serve``), migrating its database first when asked."""
    from agora.platform.http.app import create_service_app

    platform = platform_settings(data_dir)
    if platform.mode is Mode.distributed:
        require_real_broker(platform)
    settings = load_settings(spec.settings_cls)
    if migrate:
        from agora.platform.runtime import migrate_service

        asyncio.run(migrate_service(spec, platform, settings))
    app = create_service_app(spec, platform, settings)
    serve_app(app, host, port or settings.port, platform, edge=False, websockets=serves_websockets(app))


@dataclass(frozen=True)
class ServeArguments:
    service: str
    port: int | None = None
    host: str = DEFAULT_HOST
    data_dir: Path | None = None
    migrate: bool = True


def parse_serve(argv: Sequence[str]) -> ServeArguments | None:
    """``serve NAME`` and its options as :func:`agora.cli.serve` takes them, or None for anything
    else (another command, ``--help``, an unknown service or option, a port out of range)."""
    from agora.topology import SERVICE_NAMES

    if len(argv) < 2 or argv[0] != "serve" or argv[1] not in SERVICE_NAMES:
        return None
    found: dict[str, Any] = {"service": argv[1], "host": os.environ.get("AGORA_HOST") or DEFAULT_HOST}
    rest = list(argv[2:])
    while rest:
        option = rest.pop(0)
        if option in ("--migrate", "--no-migrate"):
            found["migrate"] = option == "--migrate"
        elif option in ("--port", "-p", "--host", "--data-dir") and rest:
            value = rest.pop(0)
            if option == "--host":
                found["host"] = value
            elif option == "--data-dir":
                found["data_dir"] = Path(value)
            elif value.isdigit() and 1 <= int(value) <= 65535:
                found["port"] = int(value)
            else:
                return None
        else:
            return None
    return ServeArguments(**found)


def serve_from_argv(argv: Sequence[str]) -> bool:
    """Serves when ``argv`` is a plain ``serve NAME ...`` (see the module docstring); False when
    it is not, for the command line to handle. A failure before serving is one line on stderr
    and exit status 1, as the command line reports it."""
    arguments = parse_serve(argv)
    if arguments is None:
        return False
    from agora.platform.imports import without_pydantic_v1

    without_pydantic_v1()  # before the service's module-level routes are built
    from agora.registry import service_spec

    try:
        serve_spec(
            service_spec(arguments.service),
            port=arguments.port,
            host=arguments.host,
            data_dir=arguments.data_dir,
            migrate=arguments.migrate,
        )
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("AGORA_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    return True


__all__ = [
    "DEFAULT_HOST",
    "CommandError",
    "ServeArguments",
    "parse_serve",
    "platform_settings",
    "require_real_broker",
    "serve_app",
    "serve_from_argv",
    "serve_spec",
    "server_config",
    "serves_websockets",
]
