"""``agora backup`` and ``agora restore``: every store of the configured mode, in one directory.

A backup is a directory ``agora-backup-<UTC time>/`` holding one file per store and
``manifest.json``: what was saved, when, by which agora version, each service's Alembic revision
(and the head this build knows), each file's size and sha256. Restore verifies every checksum and
every schema before it touches anything.

The stores, in the order they are saved (:data:`ORDER`; docs/operations.md explains why):

* each service's database: SQLite through its online backup API (the platform keeps running),
  PostgreSQL with ``pg_dump --format=custom``, MariaDB/MySQL with ``mariadb-dump``;
* the carts in Redis, when the cart service keeps them there (one hash per cart, with its TTL);
* the media objects, from the local directory or the S3 bucket, through the media store;
* the in-process broker's journal (embedded mode).

Orders go first: the moment its snapshot starts is the backup's *cut-off*. Every store saved
after it is at least as new, so whatever a restored order points at (a charge, a reservation, a
shipment, a user, a product, an image) is there; what those stores gained after the cut-off is
reported on restore, and the outboxes are reopened from a little before the backup started so
that consumers receive again what they may have missed (their inboxes drop what they already had).
"""

from agora.backup._manifest import FORMAT, Manifest, ManifestError
from agora.backup._plan import ORDER, Store, plan_stores
from agora.backup._run import BackupError, RestoreReport, backup, restore

__all__ = [
    "FORMAT",
    "ORDER",
    "BackupError",
    "Manifest",
    "ManifestError",
    "RestoreReport",
    "Store",
    "backup",
    "plan_stores",
    "restore",
]
