"""The catalog's tables: ``categories``, ``products``, ``product_tags``.

Portable across SQLite, PostgreSQL and MariaDB:

* ids are uuid4 strings (``String(36)``), so they can be minted before the insert and put in
  the outbox event of the same transaction;
* timestamps are stored as naive UTC with microseconds (``DATETIME(6)`` on MariaDB) and come
  back timezone-aware, whatever the database;
* tags live twice, on purpose: ``products.tags_text`` (space-separated, sorted) is the product's
  tag list and part of the full-text document; ``product_tags`` mirrors it one row per tag with
  an index on ``tag``, because filtering "has tag X" through JSON functions is different (and
  slow) on each database. The repository writes both in the same flush.

The full-text machinery (SQLite FTS5 table + triggers, PostgreSQL ``search_vector`` generated
column + GIN index, MariaDB FULLTEXT indexes) is created by the migration, per dialect; it is
deliberately not mapped here, see :mod:`.search`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
SKU_LENGTH = 64
NAME_LENGTH = 200
CATEGORY_SLUG_LENGTH = 64
CATEGORY_NAME_LENGTH = 100
TAG_LENGTH = 40
MAX_TAGS = 20
TAGS_TEXT_LENGTH = MAX_TAGS * (TAG_LENGTH + 1)


class Base(DeclarativeBase):
    metadata = service_metadata()


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    slug: Mapped[str] = mapped_column(String(CATEGORY_SLUG_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(CATEGORY_NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    price_amount: Mapped[int] = mapped_column(Integer)
    price_currency: Mapped[str] = mapped_column(String(3))
    category_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("categories.id", ondelete="RESTRICT"))
    tags_text: Mapped[str] = mapped_column(String(TAGS_TEXT_LENGTH), default="")
    images: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The UPDATE carries "WHERE version = <read version>": two concurrent writers cannot both win.
    version: Mapped[int] = mapped_column(Integer)

    # many-to-one, joined in the same SELECT: a product page is one query
    category: Mapped[Category] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # each list order gets its keyset index; "active" leads because visitors only see active rows
        Index("ix_products_active_created", "active", "created_at", "id"),
        Index("ix_products_active_price", "active", "price_amount", "id"),
        Index("ix_products_active_name", "active", "name", "id"),
        Index("ix_products_category_active", "category_id", "active"),
    )

    @property
    def tags(self) -> list[str]:
        return self.tags_text.split() if self.tags_text else []


class ProductTag(Base):
    __tablename__ = "product_tags"

    product_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(TAG_LENGTH), primary_key=True)

    __table_args__ = (Index("ix_product_tags_tag", "tag", "product_id"),)


metadata = Base.metadata
