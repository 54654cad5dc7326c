"""The ``agora`` command: run, migrate, seed and check the platform.

Every command builds its objects here, at call time (composition root); errors come out as one
clear line on stderr and a non-zero exit, not a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from agora.platform.settings import Mode, PlatformSettings, load_settings
from agora.serving import DEFAULT_HOST, CommandError, serve_spec
from agora.serving import platform_settings as _platform
from agora.serving import require_real_broker as _require_real_broker
from agora.serving import serve_app as _serve

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

app = typer.Typer(
    name="agora",
    help="Agora, a cloud-native commerce platform: run it, migrate it, seed it, check it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@functools.cache
def _console() -> Console:
    # rich loads when a command prints: agora serve prints nothing through it
    from rich.console import Console

    return Console(stderr=True)


def _print_table(table: Table) -> None:
    """A table on stdout (what a command reports; progress and errors go to stderr)."""
    from rich.console import Console

    Console().print(table)


T = TypeVar("T")

DEFAULT_PORT = 8000
FIRST_SERVICE_PORT = 8101


def _specs(names: Sequence[str] | None = None) -> list[Any]:
    """The specs of ``names`` (default: every service); imports only those services' packages."""
    from agora.registry import service_spec
    from agora.topology import SERVICE_NAMES

    unknown = [name for name in names or () if name not in SERVICE_NAMES]
    if unknown:
        raise CommandError(f"unknown service {', '.join(unknown)}; known: {', '.join(SERVICE_NAMES)}")
    return [service_spec(name) for name in names or SERVICE_NAMES]


def _progress() -> Progress:
    # rich's progress and table modules load on use: a server process (agora serve) never needs them
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=_console(),
        transient=False,
    )


def _table(title: str) -> Table:
    from rich.table import Table

    return Table(title=title)


def _run(coro_factory: Callable[[], Any]) -> Any:
    return asyncio.run(coro_factory())


async def _prepare(
    specs: Sequence[Any], platform: PlatformSettings, *, migrate: bool, seed: bool, owns_broker: bool = False
) -> dict[str, int]:
    """Migrates and seeds; after seeding, the seed's events go to the broker before any service
    starts (readiness counts on it), unless the broker is in-process and not this process's
    (``owns_broker``: ``agora up`` about to run it; ``agora seed`` leaves them to the relays)."""
    from agora.platform.runtime import migrate_service, seed_service

    seeded: dict[str, int] = {}
    with _progress() as progress:
        if migrate:
            task = progress.add_task("Migrating databases", total=len(specs))
            for spec in specs:
                progress.update(task, description=f"Migrating {spec.name}")
                await migrate_service(spec, platform)
                progress.advance(task)
            progress.update(task, description="Migrated databases")
        if seed:
            task = progress.add_task("Seeding demo data", total=len(specs))
            for spec in specs:
                progress.update(task, description=f"Seeding {spec.name}")
                seeded[spec.name] = await seed_service(spec, platform)
                progress.advance(task)
            progress.update(task, description="Seeded demo data")
    if seed and (owns_broker or not platform.broker_url.startswith("memory:")):
        await _publish_seed_events(specs, platform)
    return seeded


async def _publish_seed_events(specs: Sequence[Any], platform: PlatformSettings) -> None:
    from agora.platform.messaging import create_transport
    from agora.platform.runtime import publish_waiting_events

    transport = create_transport(platform.broker_url, data_dir=platform.data_dir)
    try:
        await transport.start()
        await publish_waiting_events(specs, platform, transport)
    except Exception as exc:  # the relays publish them once the broker answers
        _console().print(f"[yellow]The seed's events wait in the outboxes: the broker refused them ({exc}).[/yellow]")
    finally:
        await transport.close()


Port = Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="TCP port to listen on.")]
Host = Annotated[
    str,
    typer.Option("--host", envvar="AGORA_HOST", help="Address to bind (loopback by default; 0.0.0.0 in the image)."),
]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where SQLite files, keys and local objects live (default ./var).")
]


@app.command()
def up(
    port: Port = DEFAULT_PORT,
    host: Host = DEFAULT_HOST,
    data_dir: DataDir = None,
    distributed: Annotated[
        bool, typer.Option("--distributed", help="Run each service as its own process behind a front proxy.")
    ] = False,
    seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Seed demo data on first run.")] = True,
    first_service_port: Annotated[
        int,
        typer.Option("--first-service-port", min=1, max=65000, help="With --distributed: port of the first service."),
    ] = FIRST_SERVICE_PORT,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="With --distributed: run only these services (repeat the option), e.g. the ones a journey needs.",
        ),
    ] = None,
) -> None:
    """Start every service: one process (embedded), or one process each with --distributed."""
    platform = _platform(data_dir)
    if distributed:
        from agora.topology import SERVICE_NAMES

        names = [spec.name for spec in _specs(only)] if only else SERVICE_NAMES
        _up_distributed(names, platform, host=host, port=port, seed=seed, first_port=first_service_port)
        return
    if only:
        raise CommandError("--only needs --distributed (embedded mode runs every service in one process)")
    specs = _specs()
    from agora.platform.runtime import create_embedded_app

    seeded = _run(lambda: _prepare(specs, platform, migrate=True, seed=seed, owns_broker=True))
    added = sum(seeded.values())
    if added:
        _console().print(f"Seeded {added} demo rows ({', '.join(f'{k}: {v}' for k, v in seeded.items() if v)}).")
    _console().print(f"[bold]Agora[/bold] on http://{host}:{port}  (services: {', '.join(s.name for s in specs)})")
    _console().print(
        f"The shop: http://{host}:{port}/ · the admin console: http://{host}:{port}/admin "
        "(first admin: agora create-admin --email you@example.org)"
    )
    _serve(create_embedded_app(specs, platform), host, port, platform, edge=True)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pool_sizes(specs: Sequence[Any], platform: PlatformSettings) -> dict[str, int]:
    """Each service's share of the connection budget on its database server (see
    ``agora.platform.db.pools``), told on the console per server."""
    from agora.platform.db.pools import connections_per_server, server_of, split_budget

    settings = {spec.name: load_settings(spec.settings_cls) for spec in specs}
    urls = {name: each.resolved_database_url(platform) for name, each in settings.items()}
    fixed = {name: each.database_pool_size for name, each in settings.items() if each.database_pool_size}
    budget = platform.database_connection_budget
    sizes = split_budget(urls, budget, fixed)
    for server, total in connections_per_server(urls, sizes).items():
        sharing = [name for name in sizes if server_of(urls[name]) == server]
        note = "" if total <= budget else " [yellow]over the budget: lower AGORA_<SERVICE>_DATABASE_POOL_SIZE[/yellow]"
        _console().print(
            f"Database server {server}: at most {total} connections for {len(sharing)} service(s) "
            f"(AGORA_DATABASE_CONNECTION_BUDGET={budget}){note}"
        )
    return sizes


def _prepare_elsewhere(platform: PlatformSettings, names: Sequence[str], *, seed: bool) -> dict[str, int]:
    """Migrates and seeds every service in a child process (``agora prepare-distributed``) and
    returns each one's pool size. The front then never imports the services, Alembic or what
    seeding loads: it stays a small proxy and supervisor for as long as the set runs."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="agora-prepare-") as work:
        sizes_file = Path(work) / "pool-sizes.json"
        command = [sys.executable, "-m", "agora", "prepare-distributed", "--data-dir", str(platform.data_dir)]
        command += ["--seed" if seed else "--no-seed", "--pool-sizes-file", str(sizes_file)]
        command += list(names)
        if subprocess.run(command, check=False).returncode != 0:  # noqa: S603 - our own interpreter and module
            raise CommandError("preparing the service databases failed (see above)")
        sizes: dict[str, int] = json.loads(sizes_file.read_text())
    return sizes


@app.command("prepare-distributed", hidden=True)
def prepare_distributed(
    pool_sizes_file: Annotated[Path, typer.Option("--pool-sizes-file", help="Where to write the pool sizes.")],
    data_dir: DataDir = None,
    seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Seed demo data on first run.")] = True,
    services: Annotated[list[str] | None, typer.Argument(help="Services to prepare (default: all).")] = None,
) -> None:
    """What ``agora up --distributed`` runs first: migrate and seed every service, then write each
    service's connection pool size (JSON) for the processes it starts."""
    platform = _platform(data_dir)
    specs = _specs(services)
    _run(lambda: _prepare(specs, platform, migrate=True, seed=seed))
    pool_sizes_file.write_text(json.dumps(_pool_sizes(specs, platform)))


def _up_distributed(
    names: Sequence[str], platform: PlatformSettings, *, host: str, port: int, seed: bool, first_port: int
) -> None:
    from agora.platform.front import create_front_app
    from agora.supervisor import Supervisor, service_environment

    taken = [p for p in range(first_port, first_port + len(names)) if p == port or not _port_free(p)]
    if taken:
        raise CommandError(
            f"port(s) {', '.join(map(str, taken))} already in use: the services need "
            f"{len(names)} free ports from {first_port}; choose others with --first-service-port"
        )
    _require_real_broker(platform)
    pool_sizes = _prepare_elsewhere(platform, names, seed=seed)
    env = service_environment(os.environ)
    env |= {"AGORA_MODE": Mode.distributed.value, "AGORA_DATA_DIR": str(platform.data_dir)}
    if platform.jwks_file is not None:
        env["AGORA_JWKS_FILE"] = str(platform.jwks_file)
    for name, size in pool_sizes.items():
        env[f"AGORA_{name.upper()}_DATABASE_POOL_SIZE"] = str(size)
    urls: dict[str, str] = {}
    commands: dict[str, list[str]] = {}
    for offset, name in enumerate(names):
        service_port = first_port + offset
        urls[name] = f"http://127.0.0.1:{service_port}"
        env[f"AGORA_SERVICE_URLS__{name.upper()}"] = urls[name]
        commands[name] = [
            sys.executable, "-m", "agora", "serve", name, "--port", str(service_port), "--no-migrate"
        ]  # fmt: skip

    def spawn(command: Sequence[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)  # noqa: S603 - our own interpreter and module

    supervisor = Supervisor(commands, spawn)
    _console().print(
        f"[bold]Agora (distributed)[/bold] on http://{host}:{port}  "
        + "  ".join(f"{name}={url}" for name, url in urls.items())
    )

    def stop_children() -> None:
        supervisor.stop(grace=platform.shutdown_grace_seconds + 5)

    _front_tracing(platform)
    front = create_front_app(urls)
    front_lifespan = front.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        # stopped from the lifespan, not only from a ``finally``: after a graceful shutdown on
        # SIGTERM uvicorn raises the signal again, which ends this process before any ``finally``
        async with front_lifespan(app) as state:
            watching = asyncio.create_task(supervisor.watch())
            try:
                yield state
            finally:
                supervisor.stopping = True  # no restart while everything stops
                watching.cancel()
        await asyncio.to_thread(stop_children)

    front.router.lifespan_context = lifespan
    try:
        _serve(front, host, port, platform, edge=True)
    finally:
        stop_children()


def _front_tracing(platform: PlatformSettings) -> None:
    """The front's spans: the root of each request's trace (the services' spans are its children)."""
    from agora.platform.observability.tracing import configure_tracing

    configure_tracing(
        "front",
        otlp_endpoint=platform.otlp_endpoint,
        namespace=platform.service_namespace,
        sample_ratio=platform.trace_sample_ratio,
    )


def _die_with_parent() -> None:
    """In a child, before exec: have the kernel send SIGTERM if the parent dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="The service to run, e.g. catalog.")],
    port: Annotated[
        int | None, typer.Option("--port", "-p", min=1, max=65535, help="Default: the service's own port setting.")
    ] = None,
    host: Host = DEFAULT_HOST,
    data_dir: DataDir = None,
    migrate: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before serving.")] = True,
) -> None:
    """Run one service in its own process."""
    from agora.platform.imports import without_pydantic_v1

    without_pydantic_v1()  # as the serving fast path does (agora.serving.serve_from_argv)
    (spec,) = _specs([service])
    serve_spec(spec, port=port, host=host, data_dir=data_dir, migrate=migrate)


@app.command()
def migrate(
    services: Annotated[list[str] | None, typer.Argument(help="Services to migrate (default: all).")] = None,
    data_dir: DataDir = None,
    seed: Annotated[bool, typer.Option("--seed", help="Then insert the demo data (idempotent).")] = False,
) -> None:
    """Apply every pending database migration."""
    specs = _specs(services)
    _run(lambda: _prepare(specs, _platform(data_dir), migrate=True, seed=seed))
    _console().print(f"Migrated {len(specs)} service database(s){' and seeded the demo data' if seed else ''}.")


@app.command()
def front(
    port: Port = DEFAULT_PORT,
    host: Host = DEFAULT_HOST,
) -> None:
    """Serve the public port alone, forwarding /api/<service>/ to each service's process and every
    other path to the web's; the addresses come from AGORA_SERVICE_URLS__<SERVICE> (compose; in a
    cluster the ingress does this)."""
    from agora.platform.front import create_front_app

    platform = _platform()
    from agora.topology import SERVICE_NAMES

    missing = sorted(set(SERVICE_NAMES) - set(platform.service_urls))
    if missing:
        raise CommandError(
            "the front needs every service's address: set "
            + ", ".join(f"AGORA_SERVICE_URLS__{name.upper()}" for name in missing)
        )
    _front_tracing(platform)
    _serve(create_front_app(platform.service_urls), host, port, platform, edge=True)


@app.command()
def seed(
    services: Annotated[list[str] | None, typer.Argument(help="Services to seed (default: all).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Insert the demo data (idempotent: running it again adds nothing)."""
    specs = _specs(services)
    seeded = _run(lambda: _prepare(specs, _platform(data_dir), migrate=True, seed=True))
    for name, count in seeded.items():
        _console().print(f"{name}: {count} row(s) added")


@app.command()
def doctor(data_dir: DataDir = None) -> None:
    """Check every configured backend and say what is wrong."""
    from agora.doctor import run_checks

    platform = _platform(data_dir)
    results = _run(lambda: run_checks(_specs(), platform))
    table = _table("agora doctor")
    for column in ("component", "target", "state"):
        table.add_column(column)
    failed = 0
    for component, target, problem in results:
        failed += problem is not None
        table.add_row(component, target, "[green]ok[/green]" if problem is None else f"[red]{problem}[/red]")
    _print_table(table)
    if failed:
        raise CommandError(f"{failed} check(s) failed")


@app.command("dead-letters")
def dead_letters_command(
    services: Annotated[list[str] | None, typer.Argument(help="Services to look at (default: all).")] = None,
    include_replayed: Annotated[bool, typer.Option("--all", help="Also list letters already replayed.")] = False,
    data_dir: DataDir = None,
) -> None:
    """List the events consumers gave up on (after their retries), per service."""
    from agora.platform.messaging import list_dead_letters
    from agora.platform.runtime import service_context

    platform = _platform(data_dir)

    async def collect() -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        for spec in _specs(services):
            async with service_context(spec, platform) as context:
                found += [
                    (spec.name, row)
                    for row in await list_dead_letters(context.sessions, include_replayed=include_replayed)
                ]
        return found

    rows = _run(collect)
    table = _table("dead letters")
    for column in ("service", "id", "consumer", "event", "attempts", "error", "parked", "replayed"):
        table.add_column(column)
    for name, row in rows:
        error = str(row["error"]).strip().splitlines()[-1][:80] if row["error"] else ""
        replayed = row["replayed_at"].isoformat(timespec="seconds") if row["replayed_at"] else ""
        parked = row["created_at"].isoformat(timespec="seconds")
        table.add_row(
            name, str(row["id"]), row["consumer"], row["event_type"], str(row["attempts"]), error, parked, replayed
        )
    _print_table(table)
    _console().print(f"{len(rows)} dead letter(s).")


@app.command("replay-dead-letter")
def replay_dead_letter_command(
    service: Annotated[str, typer.Argument(help="The service whose consumer parked the event.")],
    letter: Annotated[int, typer.Argument(help="The dead letter's id (from `agora dead-letters`).")],
    data_dir: DataDir = None,
) -> None:
    """Deliver a dead-lettered event again. With a real broker it goes back to its topic for the
    running consumers; with the in-process broker (embedded mode) this command hands it to the
    service's consumer itself."""
    from agora.platform.messaging import Envelope, create_transport, replay_dead_letter
    from agora.platform.runtime import service_context

    platform = _platform(data_dir)
    (spec,) = _specs([service])

    async def replay() -> Envelope:
        async with service_context(spec, platform) as context:
            if platform.broker_url.startswith("memory:"):
                # no broker outside the running process: this process's consumer handles it
                consumers = {c.name: c for c in (spec.consumers(context) if spec.consumers else ())}

                async def deliver(name: str, _topic: str, envelope: Envelope) -> None:
                    if name not in consumers:
                        raise CommandError(f"{service} has no consumer named {name}")
                    await consumers[name].dispatch(envelope)

                return await replay_dead_letter(context.sessions, context.transport, letter, deliver=deliver)
            transport = create_transport(platform.broker_url)
            await transport.start()
            try:
                return await replay_dead_letter(context.sessions, transport, letter)
            finally:
                await transport.close()

    try:
        envelope = _run(replay)
    except LookupError as exc:
        raise CommandError(str(exc)) from None
    _console().print(f"Replayed dead letter {letter} of {service}: {envelope.type} {envelope.id}.")


@app.command("rebuild-recommendations")
def rebuild_recommendations(data_dir: DataDir = None) -> None:
    """Recompute every derived recommendation table (pairs bought together, purchases, popularity)
    from the facts the service has consumed: its event history."""
    from agora.platform.runtime import service_context
    from agora.services.recommendations import spec as recommendations_spec
    from agora.services.recommendations.rebuild import rebuild

    platform = _platform(data_dir)

    async def run() -> dict[str, int]:
        async with service_context(recommendations_spec, platform) as context:
            return await rebuild(context)

    counts = _run(run)
    _console().print("Rebuilt recommendations: " + ", ".join(f"{name} {count}" for name, count in counts.items()))


@app.command()
def mailbox(
    last: Annotated[int, typer.Option("--last", min=1, max=1000, help="How many of the newest messages.")] = 20,
    show: Annotated[str | None, typer.Option("--show", help="Print the message whose file name contains this.")] = None,
    data_dir: DataDir = None,
) -> None:
    """The emails written to the local mailbox (embedded mode, no SMTP server configured)."""
    import email
    from email import policy

    platform = _platform(data_dir)
    folder = platform.data_dir / "mailbox"
    files = sorted(folder.glob("*.eml"), key=lambda path: path.stat().st_mtime) if folder.is_dir() else []
    if show is not None:
        matches = [path for path in files if show in path.name]
        if not matches:
            raise CommandError(f"no message matching {show!r} in {folder}")
        message = email.message_from_bytes(matches[-1].read_bytes(), policy=policy.default)
        _console().print(f"From: {message['From']}\nTo: {message['To']}\nSubject: {message['Subject']}\n")
        body = message.get_body(preferencelist=("plain", "html"))
        _console().print(body.get_content() if body is not None else "")
        return
    table = _table(f"mailbox ({folder})")
    for column in ("file", "to", "subject"):
        table.add_column(column)
    for path in files[-last:]:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        table.add_row(path.name, str(message["To"]), str(message["Subject"]))
    _print_table(table)
    _console().print(f"{len(files)} message(s) in {folder}.")


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option("--email", help="The admin's email address.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an admin account. The password comes from AGORA_ADMIN_PASSWORD, stdin or a prompt;
    there is never a default one."""
    from pydantic import ValidationError

    from agora.platform.errors import ServiceError
    from agora.services import identity
    from agora.services.identity.operations import create_admin as create

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = os.environ.get("AGORA_ADMIN_PASSWORD") or typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
    platform = _platform(data_dir)

    async def run() -> str:
        from agora.platform.runtime import migrate_service, service_context

        await migrate_service(identity.spec, platform)
        async with service_context(identity.spec, platform) as context:
            return await create(context, email=email, password=password)

    try:
        user_id = _run(run)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CommandError(problems) from None
    except ServiceError as exc:
        raise CommandError(exc.detail) from None
    _console().print(f"Admin {email} created (id {user_id}).")


@app.command("rotate-signing-key")
def rotate_signing_key(data_dir: DataDir = None) -> None:
    """Retire identity's active token-signing key and start a new one (old tokens stay valid)."""
    from agora.services import identity
    from agora.services.identity.operations import rotate_key

    platform = _platform(data_dir)

    async def run() -> str:
        from agora.platform.runtime import migrate_service, service_context

        await migrate_service(identity.spec, platform)
        async with service_context(identity.spec, platform) as context:
            return await rotate_key(context)

    _console().print(f"New signing key {_run(run)}; the previous one verifies until its tokens expire.")


@app.command("services")
def list_services() -> None:
    """List the services this build runs."""
    for spec in _specs():
        print(f"{spec.name}\t{spec.title}")


@app.command("media-gc")
def media_gc(
    grace_minutes: Annotated[
        float | None,
        typer.Option(
            "--grace-minutes", min=0, help="Leave objects younger than this (default AGORA_MEDIA_GC_GRACE_MINUTES, 60)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be removed.")] = False,
    unused_products: Annotated[
        bool, typer.Option("--unused-products", help="Also delete product images that no product shows.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Remove stored image objects that no image references (and, when asked, unused product images)."""
    from datetime import timedelta

    from agora.platform.runtime import service_context
    from agora.services.media import spec as media_spec
    from agora.services.media.cleanup import collect_orphans

    platform = _platform(data_dir)
    grace = timedelta(minutes=grace_minutes) if grace_minutes is not None else None

    async def run() -> Any:
        async with service_context(media_spec, platform) as context:
            return await collect_orphans(context, grace=grace, dry_run=dry_run, unused_products=unused_products)

    report = _run(run)
    verb = "Would remove" if dry_run else "Removed"
    for key in report.objects_removed:
        _console().print(f"{verb} {key}")
    _console().print(
        f"{verb} {len(report.objects_removed)} object(s) and {len(report.images_removed)} unused product image(s); "
        f"kept {report.objects_kept}."
    )


BackupRoot = Annotated[
    Path,
    typer.Option(
        "--to", envvar="AGORA_BACKUP_DIR", help="Where the backup's directory is created (a volume, a mounted bucket)."
    ),
]


@app.command("backup")
def backup_command(to: BackupRoot = Path("backups"), data_dir: DataDir = None) -> None:
    """Save every store of this configuration (each service's database, the carts in Redis, the
    media objects, the embedded broker's journal) into a new directory with a manifest and
    checksums. The platform keeps running; docs/operations.md explains the order and the cut-off."""
    from agora.backup import BackupError, backup, plan_stores

    platform = _platform(data_dir)
    stores = plan_stores(_specs(), platform)
    try:
        with _progress() as progress:
            directory = _run(lambda: backup(stores, to, mode=platform.mode.value, progress=progress))
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    _console().print(f"Backed up {len(stores)} stores into {directory}")
    print(directory)


@app.command("restore")
def restore_command(
    directory: Annotated[Path, typer.Argument(help="The backup's directory (agora-backup-<time>Z).")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Restore onto databases whose schema is newer than the backup's, then migrate them to head."
        ),
    ] = False,
    replay_minutes: Annotated[
        float,
        typer.Option(
            "--replay-minutes",
            min=0,
            max=7 * 24 * 60,
            help="Publish again the events sent this long before the backup.",
        ),
    ] = 15.0,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before replacing the stores' content.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Put a backup back: checksums, schemas and the configuration are checked, and the platform
    must be stopped, before anything changes; then every store is restored in the backup's order,
    databases behind this agora's schema are migrated, and the outboxes reopened."""
    from datetime import timedelta

    from agora.backup import BackupError, Manifest, ManifestError, plan_stores, restore

    if not yes and not sys.stdin.isatty():
        raise CommandError("restore replaces the content of every store: confirm with --yes (no terminal to ask on)")
    try:
        Manifest.read(directory)  # before the services load: a wrong path is said at once
    except ManifestError as exc:
        raise CommandError(str(exc)) from None
    platform = _platform(data_dir)
    stores = plan_stores(_specs(), platform)

    progress = _progress()

    def confirm(manifest: Manifest) -> bool:
        if yes:
            return True
        progress.stop()  # the live display would draw over the question
        try:
            return typer.confirm(
                f"Replace every store with the backup of {manifest.started_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(agora {manifest.agora_version})?"
            )
        finally:
            progress.start()

    try:
        with progress:
            report = _run(
                lambda: restore(
                    stores,
                    directory,
                    platform=platform,
                    progress=progress,
                    force=force,
                    replay=timedelta(minutes=replay_minutes),
                    confirm=confirm,
                )
            )
    except (BackupError, ManifestError) as exc:
        raise CommandError(str(exc)) from None
    _print_restore_report(report)


def _print_restore_report(report: Any) -> None:
    table = _table("restored")
    for column in ("store", "content", "events published again", "written after the cut-off"):
        table.add_column(column)
    for name, content in report.restored:
        beyond = report.beyond_cutoff.get(name, {})
        table.add_row(
            name,
            content,
            str(report.reopened.get(name, "")),
            ", ".join(f"{kind} x{count}" for kind, count in sorted(beyond.items())),
        )
    _print_table(table)
    for service, revision, target in report.migrated:
        _console().print(f"Migrated {service} from {revision or 'an empty schema'} to {target}.")
    if report.beyond_cutoff:
        _console().print(
            "Some stores hold changes made after the cut-off (the start of the orders snapshot): "
            "see docs/operations.md, 'After a restore'."
        )


@app.command()
def loadtest(
    url: Annotated[str, typer.Option("--url", help="The shop to load: its root URL.")] = "http://127.0.0.1:8000",
    users: Annotated[int, typer.Option("--users", "-u", help="Shoppers at once, once all have arrived.")] = 10,
    spawn_rate: Annotated[float, typer.Option("--spawn-rate", "-r", help="New shoppers a second until --users.")] = 5.0,
    duration: Annotated[str, typer.Option("--duration", "-d", help="How long: 30s, 5m, 1h30m.")] = "1m",
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="Reports go into a new <timestamp> directory under this one.")
    ] = Path("var/reports"),
    service_url: Annotated[
        str,
        typer.Option(
            "--service-url",
            help="Each service's API at its own URL, e.g. http://{service}:8000 (in a cluster); default: at --url.",
        ),
    ] = "",
) -> None:
    """Shoppers walking weighted journeys (Locust, headless) against --url; writes a report.

    The journeys: browse, search, product page, add to cart, register and log in, checkout with
    test cards (some declined), order history, support chat, storefront pages. The report, under
    --report-dir/<timestamp>/: throughput, p50/p95/p99 per endpoint and journey, errors, and plots
    over time (summary.json, summary.md, timeline.png, report.html, Locust's locust.html). Exits 1
    when some request failed unexpectedly. Needs the loadtest extra (locust, matplotlib).
    """
    from datetime import UTC, datetime

    from agora.loadtest import runner
    from agora.loadtest.report import write_report

    try:
        plan = runner.make_plan(
            url=url,
            users=users,
            spawn_rate=spawn_rate,
            duration=duration,
            report_root=report_dir,
            service_url=service_url,
        )
        if not runner.locust_available():
            raise CommandError("Locust is not installed: pip install 'agora[loadtest]'")
        runner.check_target(plan)
        directory = runner.new_report_directory(plan.report_root)
    except runner.PlanError as exc:
        raise CommandError(str(exc)) from None
    started = datetime.now(UTC).isoformat(timespec="seconds")
    console = _console()
    console.print(
        f"Load test of {plan.url}: {plan.users} shoppers (+{plan.spawn_rate:g}/s) for {plan.duration_seconds}s; "
        f"report in {directory}"
    )
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, transient=False
    ) as progress:
        bar = progress.add_task("starting Locust", total=plan.duration_seconds)

        def show(tick: runner.Tick) -> None:
            p95 = "-" if tick.p95_ms is None else f"{tick.p95_ms:.0f} ms"
            progress.update(
                bar,
                completed=min(tick.elapsed, plan.duration_seconds),
                description=(
                    f"{tick.users:>4} users  {tick.requests_per_second:6.1f} req/s  {tick.requests:>7} requests  "
                    f"{tick.failures} failed  p95 {p95}"
                ),
            )

        code = runner.run_locust(plan, directory, on_tick=show)
    if code not in (0, 1):  # 1: some request failed, which the report tells
        raise CommandError(f"Locust exited with {code}; see {directory / 'locust.log'}")
    summary = write_report(directory, plan, started)
    table = _table(
        f"{summary.requests} requests, {summary.requests_per_second:.1f}/s, {summary.unexpected_errors} errors"
    )
    for column in ("journey", "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "journey" else "right")
    for journey in summary.journeys:
        timings = (
            "-" if value is None else f"{value:.0f}" for value in (journey.p50_ms, journey.p95_ms, journey.p99_ms)
        )
        table.add_row(
            journey.name, str(journey.requests), str(journey.failures), f"{journey.requests_per_second:.1f}", *timings
        )
    _print_table(table)
    console.print(f"Report: {directory / 'report.html'}")
    if summary.requests == 0:
        raise CommandError(f"no request was made; see {directory / 'locust.log'}")
    if summary.unexpected_errors:
        raise CommandError(f"{summary.unexpected_errors} requests failed; see the Errors in {directory / 'summary.md'}")


def main(argv: Sequence[str] | None = None) -> None:
    try:
        app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except CommandError as exc:
        _console().print(f"[red]error:[/red] {exc}", soft_wrap=True)  # one line, whatever the width
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # one line, not a traceback: the user gets what to fix
        from click.exceptions import ClickException

        # typer 0.29 raises its vendored click's exceptions (typer.TyperException), not click's
        if isinstance(exc, ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(exc.exit_code)
        _console().print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        if os.environ.get("AGORA_DEBUG"):
            raise
        sys.exit(1)
