"""The media service's tables: ``images``, ``product_images`` and ``products``.

An image row is one upload as its owner sees it; its bytes live in the object store under keys
derived from ``sha256`` (see :mod:`.storage`), so the same picture uploaded by two owners is one
set of objects and two rows. ``product_images`` is what the catalog's events say each product
shows; an image listed there cannot be deleted. ``products`` keeps the newest version seen per
product, so an event that arrives late cannot undo a newer one; ``image_claims`` covers the time
between the catalog's check of an image and the arrival of the product's event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
OWNER_LENGTH = 64
SHA256_LENGTH = 64


class Base(DeclarativeBase):
    metadata = service_metadata()


class Image(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(String(OWNER_LENGTH))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    small_bytes: Mapped[int] = mapped_column(Integer)
    large_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(SHA256_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("purpose", "owner_id", "sha256"),
        Index("ix_images_sha256", "sha256"),
        Index("ix_images_owner_created", "owner_id", "created_at", "id"),
        Index("ix_images_purpose_created", "purpose", "created_at", "id"),
    )


class ProductImage(Base):
    __tablename__ = "product_images"

    product_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    media_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)

    __table_args__ = (Index("ix_product_images_media", "media_id"),)


class ImageClaim(Base):
    """An image the catalog was just told about for a product write, before its event arrives.

    ``POST /lookup`` (the catalog's check) records one per product image it confirms; the
    product's event replaces it with ``product_images`` rows. Until then (at most
    ``claim_seconds``) the image cannot be deleted: the event may still be queued behind others.
    """

    __tablename__ = "image_claims"

    media_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductSeen(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


metadata = Base.metadata
