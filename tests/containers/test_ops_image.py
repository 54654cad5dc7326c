"""The agora-ops image (deploy/docker, ``--target agora-ops``): ``agora backup`` and ``agora restore``
run in it as the backup CronJob runs it (read-only root, no capabilities, user 10001), against the
machine's real servers: every service's database on PostgreSQL but one, which is on MariaDB, so
that pg_dump, pg_restore, mariadb-dump and mariadb all run from the image. The rows come back in
fresh databases. The common image, which has none of those clients, refuses the same backup in
one clear sentence, before saving anything."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from sqlalchemy import insert, select

from agora.deploy import k8s
from agora.platform.db import create_engine
from agora.platform.messaging.tables import outbox
from agora.platform.runtime import migrate_service
from agora.platform.testing.apps import platform_for_tests
from agora.platform.testing.databases import MARIADB_URL, POSTGRES_URL, create_database, drop_database
from agora.registry import service_specs
from tests.containers import engine
from tests.containers.engine import IMAGE, OPS_IMAGE, podman

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

#: the one service whose database is on MariaDB (the others are on PostgreSQL)
ON_MARIADB = "ads"
#: how `podman run` gives a container what the CronJob's securityContext and volumes give it (the
#: data directory an emptyDir the user owns, as fsGroup makes it), on the host's network (the
#: servers listen on loopback)
HARDENED = (
    "--network", "host", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    "--tmpfs", "/tmp", "--tmpfs", "/var/lib/agora:U",
)  # fmt: skip

Databases = dict[str, str]


def _server(service: str) -> tuple[str, str]:
    return (MARIADB_URL, "mariadb") if service == ON_MARIADB else (POSTGRES_URL, "postgresql")


async def _databases() -> Databases:
    return {spec.name: await create_database(*_server(spec.name)) for spec in service_specs()}


async def _drop(databases: Databases) -> None:
    for service, url in databases.items():
        server, backend = _server(service)
        await drop_database(server, backend, url)


@pytest.fixture(scope="module")
async def source(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Databases, dict[str, str]]]:
    """Every service's database, migrated, each with an event of its own in its outbox."""
    databases = await _databases()
    platform = platform_for_tests(tmp_path_factory.mktemp("platform"))
    marks: dict[str, str] = {}
    try:
        for spec in service_specs():
            url = databases[spec.name]
            await migrate_service(spec, platform, spec.settings_cls(database_url=url))
            marks[spec.name] = str(uuid.uuid4())
            engine = create_engine(url, pool_size=1)
            try:
                async with engine.begin() as connection:
                    await connection.execute(
                        insert(outbox).values(
                            event_id=marks[spec.name], source=spec.name, topic=spec.name, type=f"{spec.name}.ops.test",
                            payload="{}", created_at=datetime.now(UTC),
                        )
                    )  # fmt: skip
            finally:
                await engine.dispose()
        yield databases, marks
    finally:
        await _drop(databases)


def _environment(databases: Databases) -> list[str]:
    """The configuration of the run: each service's database URL (as the CronJob's ConfigMap and
    secrets give it); development, since the servers here trust loopback and need no password."""
    pairs = {f"AGORA_{service.upper()}_DATABASE_URL": url for service, url in databases.items()}
    pairs["AGORA_ENVIRONMENT"] = "development"
    return [argument for name, value in sorted(pairs.items()) for argument in ("--env", f"{name}={value}")]


def _backups_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "backups"
    folder.mkdir()
    folder.chmod(0o777)  # written by the container's user 10001
    return folder


def _backup(image: str, databases: Databases, backups: Path, *, check: bool = True) -> CompletedProcess[str]:
    """``agora backup --to /backups``, the CronJob's command, in ``image``."""
    return podman(
        "run", "--rm", *HARDENED, "--volume", f"{backups}:/backups", *_environment(databases),
        image, "backup", "--to", "/backups", timeout=300, check=check,
    )  # fmt: skip


def test_the_ops_image_is_the_common_one_and_one_layer(images: float) -> None:
    engine.assert_one_layer_more(OPS_IMAGE, title="agora-ops")


def test_the_cronjob_runs_the_ops_image() -> None:
    cronjob = next(doc for doc in k8s.backup_documents() if doc["kind"] == "CronJob")
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{k8s.OPS_IMAGE}:{k8s.IMAGE_TAG}"
    assert container["args"] == ["backup", "--to", "/backups"]


async def test_backup_then_restore_into_fresh_databases(
    images: float, source: tuple[Databases, dict[str, str]], tmp_path: Path
) -> None:
    databases, marks = source
    backups = _backups_dir(tmp_path)
    saved = _backup(OPS_IMAGE, databases, backups)
    directory = saved.stdout.strip().splitlines()[-1]
    assert directory.startswith("/backups/agora-backup-"), saved.stdout + saved.stderr
    files = {path.name for path in (backups / Path(directory).name).iterdir()}
    assert f"{ON_MARIADB}.sql" in files and "orders.pgdump" in files and "manifest.json" in files, files

    fresh = await _databases()
    try:
        restored = podman(
            "run", "--rm", *HARDENED, "--volume", f"{backups}:/backups:ro", *_environment(fresh),
            OPS_IMAGE, "restore", directory, "--yes", timeout=300,
        )  # fmt: skip
        output = restored.stdout + restored.stderr
        assert "Traceback" not in output, output
        for service, url in fresh.items():
            engine = create_engine(url, pool_size=1)
            try:
                async with engine.connect() as connection:
                    events = (await connection.execute(select(outbox.c.event_id))).scalars().all()
            finally:
                await engine.dispose()
            assert list(events) == [marks[service]], (service, events, output[-3000:])
    finally:
        await _drop(fresh)


def test_the_common_image_refuses_the_backup_clearly(
    images: float, source: tuple[Databases, dict[str, str]], tmp_path: Path
) -> None:
    databases, _ = source
    backups = _backups_dir(tmp_path)
    refused = _backup(IMAGE, databases, backups, check=False)
    output = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode == 1, output
    assert "Traceback" not in output, output
    assert "pg_dump is not installed here: the backup of orders, payments" in output, output
    assert f"mariadb-dump or mysqldump is not installed here: the backup of {ON_MARIADB} runs it" in output, output
    assert "agora-ops image" in output and "nothing was saved" in output, output
    assert list(backups.iterdir()) == []
