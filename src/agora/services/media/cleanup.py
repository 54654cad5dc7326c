"""Orphan collection (``agora media-gc``): objects no image row names, and optionally unused product images.

An object is an orphan when no image row has its content hash: its upload's transaction failed
after the bytes were written, or its last image was deleted. Only objects older than the grace
period are touched, so an upload whose row is not committed yet is never robbed of its bytes.
With ``unused_products``, product images that no product shows (and older than the grace
period) are deleted first, so their objects go in the same run. Avatars are never removed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from agora.platform.db import unit_of_work
from agora.platform.service import ServiceContext
from agora.services.media import metrics
from agora.services.media.repository import MediaRepository
from agora.services.media.runtime import media_runtime
from agora.services.media.storage import sha_of_key

log = structlog.get_logger(__name__)


@dataclass
class CollectionReport:
    objects_removed: list[str] = field(default_factory=list)
    images_removed: list[str] = field(default_factory=list)
    objects_kept: int = 0
    dry_run: bool = False


async def collect_orphans(
    context: ServiceContext,
    *,
    grace: timedelta | None = None,
    dry_run: bool = False,
    unused_products: bool = False,
    now: datetime | None = None,
) -> CollectionReport:
    runtime = media_runtime(context)
    grace = grace if grace is not None else timedelta(minutes=runtime.settings.gc_grace_minutes)
    cutoff = (now or datetime.now(UTC)) - grace
    report = CollectionReport(dry_run=dry_run)
    store = runtime.store
    # committed when the block ends (a dry run wrote nothing to commit)
    async with unit_of_work(context) as session:
        repository = MediaRepository(session)
        if unused_products:
            for image in await repository.unused_product_images(older_than=cutoff):
                report.images_removed.append(image.id)
                if not dry_run:
                    await repository.delete(image)
        referenced = await repository.referenced_hashes()
    async for stored in store.list_keys():
        sha = sha_of_key(stored.key)
        if sha is None or sha in referenced or stored.modified > cutoff:
            report.objects_kept += 1
            continue
        report.objects_removed.append(stored.key)
        if not dry_run:
            await store.delete(stored.key)
            metrics.objects_collected_total.inc()
    log.info(
        "media_gc",
        objects_removed=len(report.objects_removed),
        images_removed=len(report.images_removed),
        objects_kept=report.objects_kept,
        dry_run=dry_run,
    )
    return report
