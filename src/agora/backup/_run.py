"""The two operations: :func:`backup` writes a backup directory, :func:`restore` checks one and
puts it back. Both take the stores :func:`agora.backup.plan_stores` found and a progress display
(rich's ``Progress`` in the command line; anything with the same three methods in tests)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from agora.backup import _databases, _objects
from agora.backup._manifest import FORMAT, Manifest, ManifestError, StoreEntry, stored_file, verify
from agora.backup._plan import Store
from agora.platform.service import ServiceSpec
from agora.platform.settings import PlatformSettings

_SUFFIX = {
    "sqlite": "sqlite",
    "postgresql": "pgdump",
    "mysql": "sql",
    "redis": "jsonl",
    "local": "tar",
    "s3": "tar",
    "journal": "sqlite",
}
#: Kinds a store of the backup may be restored into (media moves between a directory and S3).
_COMPATIBLE = {"local": {"local", "s3"}, "s3": {"local", "s3"}}
#: Stores restored, or checked, at once.
PARALLEL = 4
#: How far before the backup's start the outboxes are reopened by default (docs/operations.md).
DEFAULT_REPLAY = timedelta(minutes=15)


T = TypeVar("T")


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why and what to do."""


class Progress(Protocol):
    def add_task(self, description: str, *, total: float | None = ...) -> Any: ...

    def update(self, task_id: Any, *, description: str | None = ..., total: float | None = ...) -> None: ...

    def advance(self, task_id: Any, advance: float = ...) -> None: ...


@dataclass
class RestoreReport:
    restored: list[tuple[str, str]] = field(default_factory=list)
    """(store, what was put back)."""
    migrated: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(service, revision restored, revision migrated to)."""
    reopened: dict[str, int] = field(default_factory=dict)
    """Outbox events per service marked unpublished again, for the relays to send once more."""
    beyond_cutoff: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per service, the events it wrote after the cut-off, by type: what it holds that orders does not know."""


def agora_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agora")
    except PackageNotFoundError:
        return "unknown"


async def _all(work: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Runs ``work`` at most :data:`PARALLEL` at a time, in order of the results; the first failure
    cancels the rest (a cancelled dump or restore tool is stopped, see ``_databases``)."""
    limit = asyncio.Semaphore(PARALLEL)

    async def bounded(each: Coroutine[Any, Any, T]) -> T:
        async with limit:
            return await each

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(bounded(each)) for each in work]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


# -- migrations ------------------------------------------------------------------------------------


def _lineage(spec: ServiceSpec) -> tuple[str, ...]:
    """The service's revisions, oldest first (each service has one version line)."""
    return _revisions(spec.name, spec.migrations_dir)


@cache
def _revisions(service: str, migrations_dir: Path) -> tuple[str, ...]:
    # cached by name and directory: a spec holds its router and other unhashable parts
    from alembic.script import ScriptDirectory

    from agora.platform.db.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config(service, migrations_dir, "sqlite://"))
    return tuple(reversed([revision.revision for revision in script.walk_revisions()]))


def head(spec: ServiceSpec) -> str | None:
    lineage = _lineage(spec)
    return lineage[-1] if lineage else None


def _position(spec: ServiceSpec, revision: str | None) -> int | None:
    """-1 for an empty database, the revision's index, or None when this build does not know it."""
    if revision is None:
        return -1
    lineage = _lineage(spec)
    return lineage.index(revision) if revision in lineage else None


# -- backup ----------------------------------------------------------------------------------------


async def backup(stores: Sequence[Store], destination: Path, *, mode: str, progress: Progress) -> Path:
    """Saves every store into a new directory under ``destination``; returns that directory.

    The files are written into ``<name>.partial`` and the directory renamed once the manifest
    is complete, so a backup that failed half-way is never mistaken for one that can be restored.
    """
    _require_clients(stores, "backup", "nothing was saved")
    started = datetime.now(UTC)
    final = destination / f"agora-backup-{started:%Y%m%dT%H%M%S}Z"
    partial = final.with_name(final.name + ".partial")
    if final.exists() or partial.exists():
        raise BackupError(f"{final} already exists: wait a second and run the backup again")
    partial.mkdir(parents=True)
    overall = progress.add_task("Backing up", total=len(stores))
    entries: list[StoreEntry] = []
    try:
        for store in stores:
            progress.update(overall, description=f"Backing up {store.name} ({store.kind})")
            entries.append(await _save(store, partial, progress))
            progress.advance(overall)
        progress.update(overall, description=f"Backed up {len(stores)} stores")
        cutoff = next((entry.started_at for entry in entries if entry.name == "orders"), started)
        manifest = Manifest(
            format=FORMAT,
            agora_version=agora_version(),
            mode=mode,
            started_at=started,
            finished_at=datetime.now(UTC),
            cutoff=cutoff,
            stores=entries,
        )
        manifest.write(partial)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _require_clients(stores: Sequence[Store], operation: str, consequence: str) -> None:
    """Refuses before anything starts when a database client the stores need is not installed."""
    missing = _databases.missing_clients(stores, operation)
    if missing:
        raise BackupError(
            "; ".join(missing)
            + f". In a container, run agora {operation} from the agora-ops image (docs/operations.md); {consequence}"
        )


async def _save(store: Store, directory: Path, progress: Progress) -> StoreEntry:
    started = datetime.now(UTC)
    target = directory / f"{store.name}.{_SUFFIX[store.kind]}"
    revision: str | None = None
    items: int | None = None
    task = progress.add_task(f"  {store.name}", total=None)

    def total(count: int) -> None:
        progress.update(task, total=count)

    def advance(count: int) -> None:
        progress.advance(task, count)

    try:
        if store.is_database:
            assert store.spec is not None
            if store.kind == "sqlite":
                await _databases.dump(store, target)
                revision = await _databases.revision(f"sqlite+aiosqlite:///{target}", store.spec.name)
            else:  # the dump tools read one snapshot; a migration must not run during a backup
                revision = await _databases.revision(store.url, store.spec.name)
                await _databases.dump(store, target)
        elif store.kind == "journal":
            path = store.options["path"]
            if not path.exists():  # the in-process broker never ran with a journal here
                target.touch()
            else:
                await _databases.journal_snapshot(path, target)
        elif store.kind == "redis":
            items = await _objects.save_carts(store, target, advance=advance)
        else:
            items = await _objects.save_media(store, target, total=total, advance=advance)
    except (OSError, _databases.ToolError, ValueError) as exc:
        raise BackupError(f"backing up {store.name} ({store.target}) failed: {exc}") from exc
    except Exception as exc:  # a driver's error (server down, credentials): say which store
        raise BackupError(f"backing up {store.name} ({store.target}) failed: {type(exc).__name__}: {exc}") from exc
    finally:
        progress.update(task, total=1 if items is None else max(items, 1))
        progress.advance(task, 1 if items is None else 0)
    return StoreEntry(
        name=store.name,
        kind=store.kind,
        target=store.target,
        file=stored_file(target),
        started_at=started,
        finished_at=datetime.now(UTC),
        revision=revision,
        head=head(store.spec) if store.spec is not None else None,
        items=items,
    )


# -- restore ---------------------------------------------------------------------------------------


async def restore(
    stores: Sequence[Store],
    directory: Path,
    *,
    platform: PlatformSettings,
    progress: Progress,
    force: bool = False,
    replay: timedelta = DEFAULT_REPLAY,
    confirm: Callable[[Manifest], bool] = lambda _: True,
) -> RestoreReport:
    """Checks the backup against the manifest, the configuration, the schemas and the running
    platform, then restores every store in order, migrates what is behind, and reopens the
    outboxes from ``replay`` before the backup started. Nothing changes unless every check passes
    and ``confirm`` (asked once they did) says yes."""
    manifest = Manifest.read(directory)
    pairs = _pair(manifest, stores)
    _require_clients([store for _, store in pairs], "restore", "nothing was changed")
    checking = progress.add_task("Verifying checksums", total=len(pairs))
    files: dict[str, Path] = {}
    for entry, _ in pairs:
        files[entry.name] = verify(directory, entry)
        progress.advance(checking)
    behind = await _check_schemas(manifest, pairs, force=force)
    await _check_stopped([store for _, store in pairs])
    if not confirm(manifest):
        raise BackupError("restore cancelled; nothing was changed")

    report = RestoreReport()
    overall = progress.add_task("Restoring", total=len(pairs))

    async def put_back(entry: StoreEntry, store: Store) -> tuple[str, str]:
        restored = await _load(store, entry, files[entry.name], progress)
        progress.advance(overall)
        return store.name, restored

    # the platform is stopped, so the stores need no order here: a few at once (each is mostly
    # the database server's or the object store's work)
    report.restored = await _all(put_back(entry, store) for entry, store in pairs)
    progress.update(overall, description=f"Restored {len(pairs)} stores")

    from agora.platform.runtime import migrate_service

    for store, revision in behind:
        assert store.spec is not None
        await migrate_service(store.spec, platform)
        report.migrated.append((store.name, revision, head(store.spec) or ""))
    databases = [store for _, store in pairs if store.is_database]
    since = manifest.started_at - replay
    after = await _all(_events_after(store, since=since, cutoff=manifest.cutoff) for store in databases)
    for store, (reopened, written) in zip(databases, after, strict=True):
        report.reopened[store.name] = reopened
        if written and store.name != "orders":  # the cut-off is the start of the orders snapshot
            report.beyond_cutoff[store.name] = written
    return report


def _pair(manifest: Manifest, stores: Sequence[Store]) -> list[tuple[StoreEntry, Store]]:
    """Each saved store with the configured store it goes back into, or one error listing
    every mismatch (a backup of SQLite files does not restore into PostgreSQL)."""
    configured = {store.name: store for store in stores}
    problems = []
    pairs = []
    for entry in manifest.stores:
        store = configured.pop(entry.name, None)
        if store is None:
            problems.append(f"the backup has {entry.name} ({entry.kind}), which this configuration does not")
        elif store.kind not in _COMPATIBLE.get(entry.kind, {entry.kind}):
            problems.append(
                f"{entry.name} was saved from {entry.kind} ({entry.target}) but is configured as "
                f"{store.kind} ({store.target})"
            )
        else:
            pairs.append((entry, store))
    for name, store in configured.items():
        problems.append(f"this configuration has {name} ({store.kind}), which the backup does not")
    if problems:
        raise BackupError(
            "the backup does not fit this configuration (run restore with the settings the backup was made with): "
            + "; ".join(problems)
        )
    return pairs


async def _check_schemas(
    manifest: Manifest, pairs: Sequence[tuple[StoreEntry, Store]], *, force: bool
) -> list[tuple[Store, str | None]]:
    """Refuses a backup this build cannot read and, without ``force``, a database whose schema is
    newer than the backup's. Returns the stores whose restored schema is behind this build's head."""
    refusals: list[str] = []
    newer: list[str] = []
    behind: list[tuple[Store, str | None]] = []

    async def check(entry: StoreEntry, store: Store, spec: ServiceSpec) -> None:
        saved = _position(spec, entry.revision)
        if saved is None:
            refusals.append(
                f"{spec.name}: the backup's schema is revision {entry.revision}, which this agora "
                f"({agora_version()}) does not know; agora {manifest.agora_version} made it: restore with that version"
            )
            return
        if not await _databases.exists(store):
            refusals.append(f"{spec.name}: cannot connect to {store.target}: create the (empty) database first")
            return
        current = await _databases.revision(store.url, spec.name)
        now = _position(spec, current)
        if now is None:
            refusals.append(
                f"{spec.name}: {store.target} is at revision {current}, which this agora does not know: "
                "a newer agora migrated it; restore with that agora"
            )
        elif now > saved:
            newer.append(f"{spec.name} is at {current}, the backup at {entry.revision or 'no revision'}")
        if saved < len(_lineage(spec)) - 1:
            behind.append((store, entry.revision))

    await _all(check(entry, store, store.spec) for entry, store in pairs if store.spec is not None)
    if refusals:
        raise BackupError("; ".join(sorted(refusals)))
    if newer and not force:
        raise BackupError(
            "the databases have a newer schema than the backup ("
            + "; ".join(sorted(newer))
            + "): restoring puts back the older schema with the backup's data, and the rows written since are lost. "
            "With --force the restore goes ahead and then migrates every database to this agora's head"
        )
    return behind


async def _check_stopped(stores: Sequence[Store]) -> None:
    """Restore replaces files and tables under a running service's feet: refuse while anything
    has a service database open."""
    busy = []

    async def check(store: Store) -> None:
        if store.kind == "journal":
            found = await _databases.holders(Store(store.name, "sqlite", "", url=f"sqlite:///{store.target}"))
        else:
            found = await _databases.holders(store)
        if found:
            busy.append(f"{store.name} ({store.target}) is open by {', '.join(sorted(set(found))[:3])}")

    await _all(check(store) for store in stores if store.is_database or store.kind == "journal")
    if busy:
        raise BackupError(
            "the platform is running: "
            + "; ".join(sorted(busy))
            + ". Stop every agora process (agora up, agora serve; in a cluster scale the Deployments to 0) "
            "and restore again; nothing was changed"
        )


async def _load(store: Store, entry: StoreEntry, source: Path, progress: Progress) -> str:
    task = progress.add_task(f"  {store.name}", total=entry.items or 1)
    try:
        if store.is_database:
            await _databases.load(store, source)
            progress.advance(task)
            return f"revision {entry.revision or '(empty)'}"
        if store.kind == "journal":
            _databases.replace_sqlite_file(Path(store.target), source)
            progress.advance(task)
            return "the broker's journal"
        if store.kind == "redis":
            return f"{await _objects.load_carts(store, source, advance=lambda n: progress.advance(task, n))} carts"
        count = await _objects.load_media(store, source, advance=lambda n: progress.advance(task, n))
        return f"{count} objects"
    except (OSError, _databases.ToolError, ValueError) as exc:
        raise BackupError(
            f"restoring {store.name} failed: {exc}. Other stores may be restored already; "
            "fix the cause and run the restore again (it starts over)"
        ) from exc


async def _events_after(store: Store, *, since: datetime, cutoff: datetime) -> tuple[int, dict[str, int]]:
    """Reopens the store's outbox from ``since``: the events published since then are marked
    unpublished, so its relay sends them again and the consumers that had them drop them by their
    inbox (docs/operations.md). Returns how many, and the events written after the cut-off by type."""
    from sqlalchemy import func, select, update

    from agora.platform.db import create_engine
    from agora.platform.messaging.tables import outbox

    engine = create_engine(store.url, pool_size=1)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(
                update(outbox).where(outbox.c.published_at >= since).values(published_at=None)
            )
            rows = await connection.execute(
                select(outbox.c.type, func.count()).where(outbox.c.created_at > cutoff).group_by(outbox.c.type)
            )
            return int(result.rowcount or 0), {str(kind): int(count) for kind, count in rows}
    finally:
        await engine.dispose()


__all__ = ["DEFAULT_REPLAY", "BackupError", "ManifestError", "Progress", "RestoreReport", "backup", "restore"]
