"""The cart's one table, ``cart_items``: used when carts live in SQL (embedded mode).

One row per (owner, product): ``owner`` is ``user:<user id>`` or ``anon:<cart id>``, so a cart
is simply the rows of one owner and needs no table of its own. With Redis the same data is one
hash per owner and this table stays empty (the database then holds only the messaging tables).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

OWNER_LENGTH = 160
PRODUCT_ID_LENGTH = 36


class Base(DeclarativeBase):
    metadata = service_metadata()


class CartItem(Base):
    __tablename__ = "cart_items"

    owner: Mapped[str] = mapped_column(String(OWNER_LENGTH), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(PRODUCT_ID_LENGTH), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # the expiry sweep looks for owners whose newest change is old
    __table_args__ = (
        Index("ix_cart_items_updated", "updated_at"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )


metadata = Base.metadata
