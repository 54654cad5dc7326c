"""Saving and restoring one service's database: SQLite, PostgreSQL or MariaDB/MySQL.

SQLite goes through its online backup API (a consistent snapshot while the platform writes);
PostgreSQL and MariaDB through their own dump tools, which know every object type and quoting
rule of their server better than anything written here could.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from agora.backup._plan import Store
from agora.platform.db import create_engine
from agora.platform.db.migrations import version_table

_PG_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ")
_MYSQL_TABLE = re.compile(r"^CREATE TABLE `((?:[^`]|``)+)`", re.MULTILINE)


class ToolError(RuntimeError):
    """A dump or restore tool failed; the message carries what it printed."""


# -- revisions and who is connected -------------------------------------------------------------


async def revision(url: str, service: str) -> str | None:
    """The service's Alembic revision in the database at ``url`` (None: no version table yet,
    or no SQLite file: none is created by asking)."""
    if make_url(url).get_backend_name() == "sqlite" and not _sqlite_path(url).exists():
        return None
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(_table_names(sync)))
            if version_table(service) not in tables:
                return None
            row = await connection.execute(text(f"SELECT version_num FROM {version_table(service)}"))  # noqa: S608 - our own table name
            found = row.scalar()
            return str(found) if found is not None else None
    finally:
        await engine.dispose()


def _table_names(connection: object) -> list[str]:
    from sqlalchemy import inspect

    return list(inspect(connection).get_table_names())


async def exists(store: Store) -> bool:
    """Whether the database is there to restore into (a SQLite file is created by the restore)."""
    if store.kind == "sqlite":
        return True
    engine = create_engine(store.url, pool_size=1)
    try:
        async with engine.connect():
            return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def holders(store: Store) -> list[str]:
    """Who else has the database open: processes (SQLite) or server connections (others)."""
    if store.kind == "sqlite":
        return await asyncio.to_thread(_processes_with_open, _sqlite_path(store.url))
    query = {
        "postgresql": "SELECT coalesce(nullif(application_name, ''), 'pid ' || pid) || ' from '"
        " || coalesce(host(client_addr), 'a local socket') FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        "mysql": "SELECT concat(USER, ' from ', HOST) FROM information_schema.PROCESSLIST"
        " WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
    }[store.kind]
    engine = create_engine(store.url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return [str(row[0]) for row in await connection.execute(text(query))]
    finally:
        await engine.dispose()


def _processes_with_open(database: Path) -> list[str]:
    """Processes holding ``database`` (or its WAL files) open, from Linux's /proc.

    SQLite has no server to ask and an idle connection holds no lock, so the open file
    descriptors are the one sign that a running ``agora up`` uses the file. Processes of other
    users are not visible; elsewhere than Linux the list is empty (docs/operations.md says so).
    """
    wanted = {str(database), f"{database}-wal", f"{database}-shm"}
    found: list[str] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & wanted:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            found.append(f"process {entry.name} ({command[:80]})")
    return found


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError(f"{url} is not a SQLite file")
    return Path(database).resolve()


# -- saving ----------------------------------------------------------------------------------------


async def dump(store: Store, target: Path) -> None:
    """Writes the database's snapshot to ``target``."""
    if store.kind == "sqlite":
        await asyncio.to_thread(_sqlite_snapshot, _sqlite_path(store.url), target)
    elif store.kind == "postgresql":
        arguments, env = _libpq(store.url)
        await _tool("pg_dump", "--format=custom", "--no-password", f"--file={target}", *arguments, env=env)
    else:
        arguments, env = _mysql(store.url)
        await _tool(
            _mysql_tool("mariadb-dump", "mysqldump"),
            "--single-transaction", "--routines", "--triggers", "--no-tablespaces", "--skip-lock-tables",
            f"--result-file={target}", *arguments, make_url(store.url).database or "",
            env=env,
        )  # fmt: skip


def _sqlite_snapshot(source: Path, target: Path) -> None:
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist (has `agora migrate` run?)")
    reading = sqlite3.connect(source, timeout=30)
    writing = sqlite3.connect(target)
    try:
        # all pages in one step: one read transaction, so one consistent moment, while the
        # platform's writers carry on in WAL mode (a stepwise copy restarts on every write)
        reading.backup(writing, pages=-1)
    finally:
        writing.close()
        reading.close()


async def journal_snapshot(path: Path, target: Path) -> None:
    await asyncio.to_thread(_sqlite_snapshot, path, target)


# -- restoring -------------------------------------------------------------------------------------


async def load(store: Store, source: Path) -> None:
    """Replaces the database's content with the snapshot at ``source``."""
    if store.kind == "sqlite":
        await asyncio.to_thread(replace_sqlite_file, _sqlite_path(store.url), source)
    elif store.kind == "postgresql":
        await _drop_tables(store, await _pg_dump_tables(source))
        arguments, env = _libpq(store.url)
        await _tool(
            "pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-password",
            *arguments, str(source),
            env=env,
        )  # fmt: skip
    else:
        script = await asyncio.to_thread(source.read_text)
        await _drop_tables(store, {("", name.replace("``", "`")) for name in _MYSQL_TABLE.findall(script)})
        arguments, env = _mysql(store.url)
        with source.open("rb") as dump_file:
            await _tool(
                _mysql_tool("mariadb", "mysql"),
                *arguments,
                make_url(store.url).database or "",
                env=env,
                stdin=dump_file,
            )


def replace_sqlite_file(database: Path, source: Path) -> None:
    """Puts a copy of ``source`` where ``database`` is: copied beside it, then renamed over it,
    after removing the old file's WAL and shared-memory files (SQLite would replay that WAL
    into the restored file)."""
    database.parent.mkdir(parents=True, exist_ok=True)
    copy = database.with_name(f".{database.name}.restoring")
    shutil.copyfile(source, copy)
    for leftover in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(copy, database)


async def _pg_dump_tables(source: Path) -> set[tuple[str, str]]:
    listing = await _tool("pg_restore", "--list", str(source), env={})
    return {(m.group(1), m.group(2)) for line in listing.splitlines() if (m := _PG_TABLE.match(line))}


async def _drop_tables(store: Store, keep: set[tuple[str, str]]) -> None:
    """Drops the tables the dump does not have: those of a newer schema (a ``--force`` restore
    onto it); the dump's own objects are replaced by the restore tool."""
    engine = create_engine(store.url, pool_size=1)
    try:
        async with engine.begin() as connection:
            if store.kind == "postgresql":
                rows = await connection.execute(
                    text(
                        "SELECT schemaname, tablename FROM pg_tables"
                        " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                    )
                )
                extra = [(schema, name) for schema, name in rows if (schema, name) not in keep]
                for schema, name in extra:
                    await connection.execute(text(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE'))
            else:
                rows = await connection.execute(
                    text("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
                )
                names = {name for (name,) in rows} - {name for _, name in keep}
                if names:
                    await connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
                    for name in names:
                        await connection.execute(text(f"DROP TABLE IF EXISTS `{name}`"))
                    await connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    finally:
        await engine.dispose()


# -- the tools -------------------------------------------------------------------------------------

#: The client program each operation runs per database kind (the first of several found on PATH).
_CLIENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "postgresql": {"backup": ("pg_dump",), "restore": ("pg_restore",)},
    "mysql": {"backup": ("mariadb-dump", "mysqldump"), "restore": ("mariadb", "mysql")},
}
_CLIENT_PACKAGES = {
    "postgresql": "the PostgreSQL client (Debian's postgresql-client, of the server's major version or newer)",
    "mysql": "the MariaDB client (Debian's mariadb-client)",
}


def missing_clients(stores: Sequence[Store], operation: str) -> list[str]:
    """What ``operation`` (``backup`` or ``restore``) would run for ``stores`` and this machine
    does not have: one sentence per program, naming the stores that need it and its package."""
    missing = []
    for kind, programs in _CLIENTS.items():
        names = [store.name for store in stores if store.kind == kind]
        wanted = programs[operation]
        if names and not any(shutil.which(program) for program in wanted):
            missing.append(
                f"{' or '.join(wanted)} is not installed here: the {operation} of {', '.join(names)} runs it; "
                f"install {_CLIENT_PACKAGES[kind]}"
            )
    return missing


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump's connection options; the password goes through the environment, never argv."""
    parsed: URL = make_url(url)
    arguments = [
        f"--host={parsed.host or '127.0.0.1'}",
        f"--port={parsed.port or 5432}",
        f"--username={parsed.username or 'postgres'}",
        f"--dbname={parsed.database or ''}",
    ]
    return arguments, {"PGPASSWORD": parsed.password} if parsed.password else {}


def _mysql(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(url)
    arguments = [
        f"--host={parsed.host or '127.0.0.1'}",
        f"--port={parsed.port or 3306}",
        f"--user={parsed.username or 'root'}",
        "--default-character-set=utf8mb4",
    ]
    return arguments, {"MYSQL_PWD": parsed.password} if parsed.password else {}


def _mysql_tool(*names: str) -> str:
    for name in names:
        if shutil.which(name):
            return name
    raise ToolError(f"{' or '.join(names)} is not installed (the MariaDB client package has it)")


async def _tool(program: str, *arguments: str, env: dict[str, str], stdin: object = None) -> str:
    """Runs a client tool; its output, or ToolError with what it said on stderr."""
    if shutil.which(program) is None:
        raise ToolError(f"{program} is not installed here")
    process = await asyncio.create_subprocess_exec(
        program,
        *arguments,
        stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,  # type: ignore[arg-type]
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    try:
        out, err = await process.communicate()
    except BaseException:  # cancelled (another store failed, Ctrl-C): the tool stops too
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        said = err.decode(errors="replace").strip().splitlines()
        raise ToolError(f"{program} failed ({process.returncode}): {' / '.join(said[-3:]) or 'no message'}")
    return out.decode(errors="replace")
