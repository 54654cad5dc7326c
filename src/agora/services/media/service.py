"""The media rules: who may upload, read and delete what; dedupe; what a product's image is.

No web framework here: refusals are :class:`~agora.platform.errors.ServiceError` subclasses,
which the chassis answers as problem+json. Pixels are handled by :mod:`.imaging` on the decode
pool (:mod:`.decoding`), which admits a decode by the pixels its header declares; bytes go to the
object store before the row is flushed, so a row never names objects that are missing (a failed
commit leaves objects no row names: ``agora media-gc`` removes them).

Each user's images of a purpose are bounded in number and in stored bytes (the quota); an upload
past either is a 413 naming which, nothing stored. It is checked once the picture is decoded,
with the exact bytes it would add, so the same picture uploaded again still answers 200 with the
stored one (the decoding it costs is bounded by the upload rate limit). Concurrent uploads of one
user may pass the check together (no lock across replicas): the overshoot is at most what the
rate limit lets through at once.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.media import SYSTEM_OWNER, image_url
from agora.platform.auth.verifier import Subject
from agora.platform.db.types import utcnow
from agora.platform.errors import ConflictError, NotFoundError, ServiceError, UnprocessableError
from agora.platform.http.pagination import Cursors
from agora.services.media import formats, metrics
from agora.services.media.artist import DemoArtist
from agora.services.media.decoding import DecodePool, DecoderBusy
from agora.services.media.models import Image
from agora.services.media.repository import MediaRepository
from agora.services.media.settings import MediaSettings
from agora.services.media.storage import ObjectStore, object_key

log = structlog.get_logger(__name__)

PURPOSES = ("product", "avatar")


class PayloadTooLargeError(ServiceError):
    status = 413


class UnsupportedImageError(ServiceError):
    status = 415


class ForbiddenError(ServiceError):
    status = 403


class QuotaExceededError(ServiceError):
    """413: the owner keeps as many images, or as many bytes, of this purpose as allowed."""

    status = 413
    field = "file"


def image_document(image: Image) -> dict[str, Any]:
    """An image as the API returns it (``schemas.ImageOut``)."""
    return {
        "id": image.id,
        "purpose": image.purpose,
        "owner_id": image.owner_id,
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "size_bytes": image.size_bytes,
        "sha256": image.sha256,
        "created_at": image.created_at.isoformat(),
        "url": image_url(image.id),
        "thumbnails": {"small": image_url(image.id, "small"), "large": image_url(image.id, "large")},
    }


def original_name(image: Image) -> str:
    return "original." + {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}[image.content_type]


def is_admin(subject: Subject | None) -> bool:
    return subject is not None and subject.has_role("admin")


@dataclass
class ImagePage:
    items: list[Image]
    next_cursor: str | None


class MediaService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        store: ObjectStore,
        pool: DecodePool,
        settings: MediaSettings,
        artist: DemoArtist | None = None,
    ) -> None:
        self.session = session
        self.repository = MediaRepository(session)
        self.store = store
        self.pool = pool
        self.settings = settings
        self.artist = artist

    def limits(self, purpose: str) -> formats.Limits:
        """Product images as large as a poster; avatars smaller, and kept at ``avatar_side``."""
        settings = self.settings
        if purpose == "avatar":
            return formats.Limits(settings.avatar_max_pixels, settings.avatar_max_side, settings.avatar_side)
        return formats.Limits(settings.max_pixels, settings.max_side)

    def quota(self, purpose: str) -> tuple[int, int]:
        """(images, bytes) one owner may keep of ``purpose``."""
        settings = self.settings
        if purpose == "avatar":
            return settings.avatar_quota_images, settings.avatar_quota_bytes
        return settings.product_quota_images, settings.product_quota_bytes

    # --- upload --------------------------------------------------------------------------------

    async def process(self, data: bytes, limits: formats.Limits) -> formats.ProcessedImage:
        from agora.services.media import imaging  # Pillow: on the first upload, not at start-up

        try:
            header = imaging.inspect(data, limits)  # the header only: what the decode will cost
            return await self.pool.run(header.decode_cost, functools.partial(imaging.process, data, limits))
        except DecoderBusy:
            metrics.uploads_total.labels("busy").inc()
            raise
        except formats.ImageRejectedError as exc:
            metrics.uploads_total.labels(exc.kind).inc()
            if exc.kind == "type":
                raise UnsupportedImageError(str(exc), field="file") from None
            raise UnprocessableError(str(exc), field="file") from None

    async def check_quota(self, *, purpose: str, owner_id: str, size: int) -> None:
        """Refuses (413) an upload of ``size`` more bytes that would take the owner past the quota."""
        max_images, max_bytes = self.quota(purpose)
        images, stored = await self.repository.usage(owner_id=owner_id, purpose=purpose)
        if images + 1 > max_images:
            quota, limit, used = "images", max_images, images
            detail = f"You keep {images} {purpose} images, the most allowed; delete one first."
        elif stored + size > max_bytes:
            quota, limit, used = "bytes", max_bytes, stored
            detail = f"Your {purpose} images take {stored} bytes; this one would pass the {max_bytes} allowed."
        else:
            return
        metrics.uploads_total.labels("quota").inc()
        raise QuotaExceededError(detail, quota=quota, limit=limit, used=used)

    async def upload(self, data: bytes, *, purpose: str, owner_id: str) -> tuple[Image, bool]:
        """The stored image and whether it is new (False: the owner already had these bytes)."""
        processed = await self.process(data, self.limits(purpose))
        existing = await self.repository.find(purpose=purpose, owner_id=owner_id, sha256=processed.sha256)
        if existing is not None:
            metrics.uploads_total.labels("duplicate").inc()
            return existing, False
        # after the duplicate check: an image the owner already has costs nothing more
        await self.check_quota(purpose=purpose, owner_id=owner_id, size=processed.stored_bytes)
        image = await self.store_image(processed, purpose=purpose, owner_id=owner_id, image_id=str(uuid.uuid4()))
        if image is None:  # a concurrent upload of the same bytes by the same owner won the insert
            raced = await self.repository.find(purpose=purpose, owner_id=owner_id, sha256=processed.sha256)
            if raced is None:  # pragma: no cover - the unique constraint named exactly this row
                raise ConflictError("The upload collided with another one; try again.", field="file")
            metrics.uploads_total.labels("duplicate").inc()
            return raced, False
        metrics.uploads_total.labels("stored").inc()
        log.info("image_stored", image_id=image.id, purpose=purpose, sha256=image.sha256, size=image.size_bytes)
        return image, True

    async def store_image(
        self, processed: formats.ProcessedImage, *, purpose: str, owner_id: str, image_id: str
    ) -> Image | None:
        """Writes the objects (once per content hash) and the row; None when the row already existed."""
        sha = processed.sha256
        objects = {
            f"original.{processed.extension}": (processed.original, processed.content_type),
            **{f"{name}.webp": (data, formats.THUMBNAIL_TYPE) for name, data in processed.thumbnails.items()},
        }
        for name, (data, content_type) in objects.items():
            key = object_key(sha, name)
            if not await self.store.exists(key):
                await self.store.put(key, data, content_type=content_type)
                metrics.bytes_stored_total.inc(len(data))
        image = Image(
            id=image_id,
            purpose=purpose,
            owner_id=owner_id,
            content_type=processed.content_type,
            width=processed.width,
            height=processed.height,
            size_bytes=len(processed.original),
            small_bytes=len(processed.thumbnails["small"]),
            large_bytes=len(processed.thumbnails["large"]),
            sha256=sha,
        )
        try:
            async with self.session.begin_nested():
                await self.repository.add(image)
        except IntegrityError:
            return None
        return image

    # --- reads ---------------------------------------------------------------------------------

    async def get(self, image_id: str) -> Image:
        image = await self.repository.get(image_id)
        if image is None:
            raise NotFoundError("No such image.", field="image_id")
        return image

    async def visible(self, image_id: str, subject: Subject | None) -> Image:
        """The image's metadata as ``subject`` may see it: avatars only to their owner, admins, services."""
        image = await self.get(image_id)
        if image.purpose == "avatar" and not (
            subject is not None and (subject.id == image.owner_id or subject.has_role("admin", "service"))
        ):
            raise NotFoundError("No such image.", field="image_id")
        return image

    async def list_images(
        self,
        subject: Subject,
        *,
        purpose: str | None,
        mine: bool,
        limit: int,
        cursor: str | None,
        cursors: Cursors,
    ) -> ImagePage:
        """Newest first; a cursor is bound to its purpose and owner filter (a refused one is the
        chassis's 422 naming ``query.cursor``)."""
        owner = subject.id if mine or not is_admin(subject) else None
        after = cursors.decode(cursor, tuple[datetime, str], of="images", purpose=purpose, owner=owner)
        rows = list(await self.repository.page(purpose=purpose, owner_id=owner, limit=limit + 1, after=after))
        items, next_cursor = cursors.page(
            rows, limit, lambda image: (image.created_at, image.id), of="images", purpose=purpose, owner=owner
        )
        return ImagePage(items=items, next_cursor=next_cursor)

    async def lookup(self, ids: list[str], *, claim: bool = False) -> list[Image]:
        """The images among ``ids``; with ``claim``, the product images found are protected from
        deletion until the product's event arrives (the caller is about to attach them)."""
        images = list(await self.repository.many(ids))
        if claim:
            await self.repository.claim([image.id for image in images if image.purpose == "product"], utcnow())
        return images

    # --- delete --------------------------------------------------------------------------------

    async def delete(self, image_id: str, subject: Subject) -> None:
        image = await self.get(image_id)
        if not is_admin(subject) and image.owner_id != subject.id:
            # another user's image is not acknowledged to exist
            raise NotFoundError("No such image.", field="image_id")
        products = await self.repository.products_using(image.id)
        if products:
            raise ConflictError(
                f"The image is shown by {len(products)} product(s); remove it from them first.",
                field="image_id",
                products=products[:100],
            )
        since = utcnow() - timedelta(seconds=self.settings.claim_seconds)
        if await self.repository.claimed_since(image.id, since):
            raise ConflictError(
                "The image was just attached to a product (the catalog's change is on its way); try again later.",
                field="image_id",
                products=[],
            )
        await self.repository.delete(image)
        log.info("image_deleted", image_id=image.id, by=subject.id)

    # --- the catalog's products ----------------------------------------------------------------

    async def record_product(self, product_id: str, version: int, media_ids: list[str]) -> bool:
        """Remembers which media a product shows; False when a newer version was already seen."""
        seen = await self.repository.seen_version(product_id)
        if seen is not None and seen > version:
            return False
        await self.repository.replace_product_images(product_id, version, media_ids)
        await self.repository.release_claims(media_ids)  # product_images protects them from now on
        return True

    async def forget_product(self, product_id: str, version: int) -> None:
        """A withdrawn product shows nothing: its images may be deleted."""
        seen = await self.repository.seen_version(product_id)
        if seen is not None and seen > version:
            return
        await self.repository.replace_product_images(product_id, version, [])

    async def ensure_demo_image(
        self, image_id: str, *, name: str, category: str, product_id: str, colour: str | None = None
    ) -> bool:
        """Draws and stores a demo product's picture under ``image_id`` unless it exists; True when drawn."""
        if await self.repository.get(image_id) is not None:
            return False

        if self.artist is not None:  # in a child process (see .artist)
            processed = await self.artist.draw(name=name, category=category, key=product_id, colour=colour)
        else:
            from agora.services.media import imaging

            draw = functools.partial(imaging.demo_image, name=name, category=category, key=product_id, colour=colour)
            processed = await self.pool.run(formats.DEMO_SIDE**2, draw)
        stored = await self.store_image(processed, purpose="product", owner_id=SYSTEM_OWNER, image_id=image_id)
        return stored is not None


__all__ = [
    "PURPOSES",
    "ForbiddenError",
    "ImagePage",
    "MediaService",
    "PayloadTooLargeError",
    "QuotaExceededError",
    "UnsupportedImageError",
    "image_document",
    "is_admin",
    "original_name",
]
