"""What `agora restore` refuses, and that a refusal changes nothing: a damaged file, a schema this
build does not know, a database newer than the backup (unless --force), a backup that does not
fit the configuration, a running platform (SQLite and PostgreSQL), and bad arguments."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from agora.backup import BackupError, ManifestError, Store, backup, plan_stores, restore
from agora.backup._databases import holders, revision
from agora.platform.db import create_engine
from agora.platform.db.migrations import downgrade
from agora.platform.messaging.tables import outbox
from agora.platform.runtime import migrate_service
from agora.platform.settings import PlatformSettings
from agora.platform.testing.apps import platform_for_tests
from agora.platform.testing.databases import POSTGRES_URL, fresh_database
from agora.platform.testing.processes import agora_command
from agora.registry import service_spec

pytestmark = [pytest.mark.backend("sqlite"), pytest.mark.timeout(90)]

SERVICES = ("orders", "identity", "media")


class Quiet:
    """The progress display, without a display."""

    def add_task(self, description: str, *, total: float | None = None) -> int:
        return 0

    def update(self, task_id: Any, *, description: str | None = None, total: float | None = None) -> None:
        return None

    def advance(self, task_id: Any, advance: float = 1) -> None:
        return None


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` and its sha256: what "nothing changed" compares."""
    if not directory.exists():
        return {}
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def platform_at(directory: Path) -> PlatformSettings:
    return platform_for_tests(directory)


def stores_of(platform: PlatformSettings) -> list[Store]:
    return plan_stores([service_spec(name) for name in SERVICES], platform)


async def migrated(platform: PlatformSettings) -> None:
    for name in SERVICES:
        await migrate_service(service_spec(name), platform)


@pytest.fixture(scope="module")
async def saved(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Path]:
    """A backup of three services whose identity schema is one revision behind this build's, and
    whose media outbox holds an event published a minute ago, one published two hours ago and
    one written after the cut-off (dated a minute ahead: as if written while orders was saved)."""
    source = platform_at(tmp_path_factory.mktemp("source"))
    await migrated(source)
    identity = service_spec("identity")
    engine = create_engine(f"sqlite+aiosqlite:///{source.data_dir / 'identity.db'}")
    try:
        await downgrade(engine, service="identity", migrations_dir=identity.migrations_dir, revision="-1")
    finally:
        await engine.dispose()
    now = datetime.now(UTC)
    engine = create_engine(f"sqlite+aiosqlite:///{source.data_dir / 'media.db'}")
    try:
        async with engine.begin() as connection:
            for kind, created, published in (
                ("media.test.recent", now - timedelta(minutes=1), now - timedelta(minutes=1)),
                ("media.test.old", now - timedelta(hours=2), now - timedelta(hours=2)),
                ("media.test.later", now + timedelta(minutes=1), None),
            ):
                await connection.execute(
                    insert(outbox).values(
                        event_id=str(uuid.uuid4()), source="media", topic="media", type=kind, payload="{}",
                        created_at=created, published_at=published,
                    )
                )  # fmt: skip
    finally:
        await engine.dispose()
    yield await backup(stores_of(source), tmp_path_factory.mktemp("backups"), mode="embedded", progress=Quiet())


def copy_of(saved: Path, tmp_path: Path) -> Path:
    copy = tmp_path / saved.name
    copy.mkdir()
    for path in saved.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


async def test_a_damaged_file_is_refused_and_nothing_changes(saved: Path, tmp_path: Path) -> None:
    damaged = copy_of(saved, tmp_path)
    data = bytearray((damaged / "identity.sqlite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (damaged / "identity.sqlite").write_bytes(bytes(data))
    target = platform_at(tmp_path / "target")
    with pytest.raises(ManifestError, match=r"identity: .*identity\.sqlite does not match the manifest.*nothing"):
        await restore(stores_of(target), damaged, platform=target, progress=Quiet())
    assert snapshot(target.data_dir) == {}


async def test_a_schema_this_build_does_not_know_is_refused_even_with_force(saved: Path, tmp_path: Path) -> None:
    newer = copy_of(saved, tmp_path)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["agora_version"] = "9.0.0"
    for entry in manifest["stores"]:
        if entry["name"] == "orders":
            entry["revision"] = "0042_orders_from_the_future"
    (newer / "manifest.json").write_text(json.dumps(manifest))
    target = platform_at(tmp_path / "target")
    await migrated(target)
    before = snapshot(target.data_dir)
    unknown = r"orders: the backup's schema is revision 0042_orders_from_the_future.*9\.0\.0"
    with pytest.raises(BackupError, match=unknown):
        await restore(stores_of(target), newer, platform=target, progress=Quiet(), force=True)
    assert snapshot(target.data_dir) == before


async def test_a_newer_database_is_refused_then_restored_and_migrated_with_force(saved: Path, tmp_path: Path) -> None:
    target = platform_at(tmp_path / "target")
    await migrated(target)
    identity_db = f"sqlite+aiosqlite:///{target.data_dir / 'identity.db'}"
    head = await revision(identity_db, "identity")
    before = snapshot(target.data_dir)
    with pytest.raises(BackupError, match=rf"identity is at {head}, the backup at \w+.*--force"):
        await restore(stores_of(target), saved, platform=target, progress=Quiet())
    assert snapshot(target.data_dir) == before

    report = await restore(stores_of(target), saved, platform=target, progress=Quiet(), force=True)
    (migrated_service, restored_at, now_at) = report.migrated[0]
    assert migrated_service == "identity" and restored_at != head and now_at == head
    assert await revision(identity_db, "identity") == head
    assert [name for name, _ in report.restored] == ["orders", "media", "media-objects", "identity", "broker"]

    # the outboxes reopened from 15 minutes before the backup: the recent event goes out again
    assert report.reopened == {"orders": 0, "media": 1, "identity": 0}
    assert report.beyond_cutoff == {"media": {"media.test.later": 1}}
    engine = create_engine(f"sqlite+aiosqlite:///{target.data_dir / 'media.db'}")
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(outbox.c.type, outbox.c.published_at.is_(None)))
            assert {kind: unpublished for kind, unpublished in rows} == {
                "media.test.recent": True,
                "media.test.old": False,
                "media.test.later": True,
            }
    finally:
        await engine.dispose()


async def test_a_backup_that_does_not_fit_the_configuration_is_refused(saved: Path, tmp_path: Path) -> None:
    target = platform_at(tmp_path / "target")
    stores = [store for store in stores_of(target) if store.name != "media-objects"]
    orders = next(store for store in stores if store.name == "orders")
    stores[stores.index(orders)] = Store("orders", "postgresql", "postgresql://db/orders", spec=orders.spec, url="x")
    with pytest.raises(BackupError) as refused:
        await restore(stores, saved, platform=target, progress=Quiet())
    assert "orders was saved from sqlite" in str(refused.value)
    assert "the backup has media-objects (local), which this configuration does not" in str(refused.value)
    assert snapshot(target.data_dir) == {}


async def test_an_open_sqlite_file_counts_as_a_running_platform(tmp_path: Path) -> None:
    database = tmp_path / "orders.db"
    holding = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('create table t (x)'); "
        "print('open', flush=True); sys.stdin.read()"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", holding, str(database), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    store = Store("orders", "sqlite", str(database), url=f"sqlite+aiosqlite:///{database}")
    try:
        assert process.stdout is not None and await asyncio.wait_for(process.stdout.readline(), 30) == b"open\n"
        assert [f"process {process.pid}" in found for found in await holders(store)] == [True]
    finally:
        assert process.stdin is not None
        process.stdin.close()
        await asyncio.wait_for(process.wait(), 30)
    assert await holders(store) == []


@pytest.mark.backend("postgresql")
async def test_a_connected_postgresql_database_counts_as_a_running_platform(tmp_path: Path) -> None:
    async for url in fresh_database("postgresql", tmp_path):
        store = Store("orders", "postgresql", "orders", url=url)
        assert await holders(store) == []
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                assert len(await holders(store)) == 1
        finally:
            await engine.dispose()
        assert POSTGRES_URL  # the server the database was made on


def test_bad_arguments_get_one_clear_line_and_change_nothing(saved: Path, tmp_path: Path) -> None:
    def agora(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            agora_command(*args, "--data-dir", str(tmp_path / "var")),
            env={**os.environ, "AGORA_ENVIRONMENT": "test", "COLUMNS": "300"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    not_a_backup = agora("restore", str(tmp_path), "--yes")
    assert not_a_backup.returncode == 1, not_a_backup.stderr
    assert "manifest.json is missing" in not_a_backup.stderr and "Traceback" not in not_a_backup.stderr
    unconfirmed = agora("restore", str(saved))
    assert unconfirmed.returncode == 1 and "confirm with --yes" in unconfirmed.stderr, unconfirmed.stderr
    negative = agora("restore", str(saved), "--yes", "--replay-minutes", "-5")
    assert negative.returncode == 2 and "--replay-minutes" in negative.stderr, negative.stderr
    assert not (tmp_path / "var").exists()


@pytest.mark.backend("postgresql")
async def test_a_backup_that_fails_names_the_store_and_leaves_nothing(tmp_path: Path) -> None:
    platform = platform_at(tmp_path / "source")
    await migrated(platform)
    stores = stores_of(platform)
    missing = POSTGRES_URL.rsplit("/", 1)[0] + "/agora_no_such_database"
    stores.insert(1, Store("payments", "postgresql", "payments", spec=service_spec("payments"), url=missing))
    with pytest.raises(BackupError, match=r"backing up payments \(payments\) failed: .*agora_no_such_database"):
        await backup(stores, tmp_path / "backups", mode="embedded", progress=Quiet())
    assert list((tmp_path / "backups").iterdir()) == []


async def test_missing_database_clients_are_named_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pg_dump (or mariadb-dump) on PATH, backup and restore say which program, for which
    stores and from which package, and neither writes nor changes anything (the container test
    checks the same of the common image, which has no client)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    orders, ads = service_spec("orders"), service_spec("ads")
    servers = [
        Store("orders", "postgresql", "orders", spec=orders, url=POSTGRES_URL),
        Store("ads", "mysql", "ads", spec=ads, url="mysql+aiomysql://root@127.0.0.1:3306/ads"),
    ]
    with pytest.raises(BackupError) as refused:
        await backup(servers, tmp_path / "backups", mode="distributed", progress=Quiet())
    said = str(refused.value)
    assert "pg_dump is not installed here: the backup of orders runs it" in said, said
    assert "mariadb-dump or mysqldump is not installed here: the backup of ads runs it" in said, said
    assert said.endswith("nothing was saved"), said
    assert not (tmp_path / "backups").exists()
