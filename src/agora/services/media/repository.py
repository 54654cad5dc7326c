"""Every query of the media service."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.media.models import Image, ImageClaim, ProductImage, ProductSeen


class MediaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, image_id: str) -> Image | None:
        return await self.session.get(Image, image_id)

    async def find(self, *, purpose: str, owner_id: str, sha256: str) -> Image | None:
        statement = select(Image).where(Image.purpose == purpose, Image.owner_id == owner_id, Image.sha256 == sha256)
        return (await self.session.scalars(statement)).one_or_none()

    async def usage(self, *, owner_id: str, purpose: str) -> tuple[int, int]:
        """(images, stored bytes: originals and thumbnails) of one owner and purpose."""
        statement = select(
            func.count(), func.coalesce(func.sum(Image.size_bytes + Image.small_bytes + Image.large_bytes), 0)
        ).where(Image.owner_id == owner_id, Image.purpose == purpose)
        images, stored = (await self.session.execute(statement)).one()
        return int(images), int(stored)

    async def many(self, ids: Sequence[str]) -> Sequence[Image]:
        if not ids:
            return []
        return (await self.session.scalars(select(Image).where(Image.id.in_(ids)))).all()

    async def page(
        self, *, purpose: str | None, owner_id: str | None, limit: int, after: tuple[datetime, str] | None
    ) -> Sequence[Image]:
        """Newest first (keyset on created_at, id), filtered by purpose and owner when given."""
        statement = select(Image).order_by(Image.created_at.desc(), Image.id.desc()).limit(limit)
        if purpose is not None:
            statement = statement.where(Image.purpose == purpose)
        if owner_id is not None:
            statement = statement.where(Image.owner_id == owner_id)
        if after is not None:
            created_at, image_id = after
            statement = statement.where(
                or_(Image.created_at < created_at, and_(Image.created_at == created_at, Image.id < image_id))
            )
        return (await self.session.scalars(statement)).all()

    async def add(self, image: Image) -> None:
        self.session.add(image)
        await self.session.flush()

    async def delete(self, image: Image) -> None:
        await self.session.delete(image)
        await self.session.flush()

    async def referenced_hashes(self) -> set[str]:
        return set((await self.session.scalars(select(Image.sha256).distinct())).all())

    async def unused_product_images(self, *, older_than: datetime) -> Sequence[Image]:
        used = select(ProductImage.media_id)
        statement = select(Image).where(
            Image.purpose == "product", Image.created_at < older_than, Image.id.not_in(used)
        )
        return (await self.session.scalars(statement)).all()

    # --- what the catalog's products show ---------------------------------------------------

    async def products_using(self, media_id: str) -> list[str]:
        statement = (
            select(ProductImage.product_id).where(ProductImage.media_id == media_id).order_by(ProductImage.product_id)
        )
        return list((await self.session.scalars(statement)).all())

    async def claim(self, media_ids: Iterable[str], now: datetime) -> None:
        for media_id in dict.fromkeys(media_ids):
            claim = await self.session.get(ImageClaim, media_id)
            if claim is None:
                self.session.add(ImageClaim(media_id=media_id, claimed_at=now))
            else:
                claim.claimed_at = now
        await self.session.flush()

    async def claimed_since(self, media_id: str, since: datetime) -> bool:
        claim = await self.session.get(ImageClaim, media_id)
        return claim is not None and claim.claimed_at >= since

    async def release_claims(self, media_ids: Iterable[str]) -> None:
        ids = list(media_ids)
        if ids:
            await self.session.execute(delete(ImageClaim).where(ImageClaim.media_id.in_(ids)))

    async def seen_version(self, product_id: str) -> int | None:
        seen = await self.session.get(ProductSeen, product_id)
        return seen.version if seen is not None else None

    async def replace_product_images(self, product_id: str, version: int, media_ids: Iterable[str]) -> None:
        seen = await self.session.get(ProductSeen, product_id)
        if seen is None:
            self.session.add(ProductSeen(id=product_id, version=version))
        else:
            seen.version = version
        await self.session.execute(delete(ProductImage).where(ProductImage.product_id == product_id))
        for media_id in dict.fromkeys(media_ids):
            self.session.add(ProductImage(product_id=product_id, media_id=media_id))
        await self.session.flush()
