"""``manifest.json``: what a backup holds, and the checks a restore makes before it changes anything."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: The manifest's layout; a restore refuses any other (a newer agora wrote it).
FORMAT = 1
MANIFEST = "manifest.json"
_CHUNK = 1024 * 1024


class ManifestError(Exception):
    """The backup directory is not one this agora can restore; the message says why."""


class StoredFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """A file name inside the backup directory (never a path out of it)."""
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class StoreEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: str
    target: str
    file: StoredFile
    started_at: datetime
    finished_at: datetime
    revision: str | None = None
    """The service's Alembic revision in this backup (databases only; None: an empty database)."""
    head: str | None = None
    """The newest revision the agora that made the backup knew."""
    items: int | None = None
    """Objects or carts saved (object stores and Redis)."""


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int
    agora_version: str
    mode: str
    started_at: datetime
    finished_at: datetime
    cutoff: datetime
    """When the orders database's snapshot began: what a restore brings back is at least this new."""
    stores: list[StoreEntry]

    def write(self, directory: Path) -> None:
        (directory / MANIFEST).write_text(self.model_dump_json(indent=2) + "\n")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not directory.is_dir():
            raise ManifestError(f"{directory} is not a directory (give the backup's directory, agora-backup-...)")
        try:
            raw: Any = json.loads(path.read_text())
        except FileNotFoundError:
            raise ManifestError(f"{path} is missing: {directory} is not an agora backup") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{path} cannot be read: {exc}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            found = raw.get("format") if isinstance(raw, dict) else None
            raise ManifestError(
                f"{path} has format {found!r}; this agora reads format {FORMAT} (restore with the agora that made it)"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            raise ManifestError(f"{path} is not a valid manifest: {problems}") from None

    def store(self, name: str) -> StoreEntry | None:
        return next((entry for entry in self.stores if entry.name == name), None)


def checksum(path: Path) -> tuple[int, str]:
    """The file's size and sha256."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def stored_file(path: Path) -> StoredFile:
    size, sha = checksum(path)
    return StoredFile(path=path.name, size=size, sha256=sha)


def verify(directory: Path, entry: StoreEntry) -> Path:
    """The store's file, once its size and sha256 match the manifest; ManifestError otherwise."""
    path = directory / entry.file.path
    if not path.is_file():
        raise ManifestError(f"{entry.name}: {path} is missing from the backup")
    size, sha = checksum(path)
    if size != entry.file.size or sha != entry.file.sha256:
        raise ManifestError(
            f"{entry.name}: {path} does not match the manifest (size {size}, expected {entry.file.size}; "
            f"sha256 {sha[:12]}..., expected {entry.file.sha256[:12]}...): the backup is damaged, nothing was restored"
        )
    return path
