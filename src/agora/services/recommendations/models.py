"""Recommendations' tables.

The consumed facts, which ARE the history (:func:`agora.services.recommendations.rebuild.rebuild`
recomputes everything else from them):

* ``products``: the local copy of the catalog, from ``catalog.product.*`` events (newest
  ``version`` wins, so an old event delivered late changes nothing);
* ``paid_orders`` and ``order_lines``: from ``orders.order.paid``; the order id is the primary
  key, so an order counts once however many times (and under whichever envelope id) it arrives.

Derived, updated incrementally per paid order:

* ``co_purchases``: per unordered product pair (``product_a < product_b``), in how many orders
  both were bought;
* ``user_purchases``: per user and product, units bought (what ``/me`` excludes and starts from);
* ``popularity``: per product, units and orders (the cold start).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.contracts.recommendations import PRODUCT_ID_LENGTH
from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = PRODUCT_ID_LENGTH
SKU_LENGTH = 64
NAME_LENGTH = 200
SLUG_LENGTH = 100
USER_ID_LENGTH = 64


class Base(DeclarativeBase):
    metadata = service_metadata()


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(Text)
    """Space-separated tags (catalog tags are slugs: no spaces)."""
    category: Mapped[str] = mapped_column(String(SLUG_LENGTH))
    active: Mapped[bool] = mapped_column(Boolean)
    price_amount: Mapped[int] = mapped_column(Integer)
    price_currency: Mapped[str] = mapped_column(String(3))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The catalog's creation time: "newest" in the cold start."""
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When this copy last changed here: the similarity model's watermark."""

    __table_args__ = (Index("ix_products_category_active", "category", "active"),)


class PaidOrder(Base):
    __tablename__ = "paid_orders"

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH), index=True)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderLine(Base):
    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("paid_orders.order_id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class CoPurchase(Base):
    __tablename__ = "co_purchases"

    product_a: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    product_b: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("product_a < product_b", name="pair_ordered"),
        Index("ix_co_purchases_product_b", "product_b"),
    )


class UserPurchase(Base):
    __tablename__ = "user_purchases"

    user_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Popularity(Base):
    __tablename__ = "popularity"

    product_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    units: Mapped[int] = mapped_column(Integer)
    orders: Mapped[int] = mapped_column(Integer)


metadata = Base.metadata
