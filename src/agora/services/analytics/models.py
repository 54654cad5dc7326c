"""Analytics' tables of facts, built from events (and the demo seed), never from other databases.

* ``order_facts``: one row per order id, upserted by ``orders.order.placed/paid/failed/cancelled``
  (in whatever order they arrive); amounts in minor units of ``currency``.
* ``order_fact_lines``: the lines of an order (from ``placed`` or ``paid``, written once).
* ``activity``: funnel steps that are not orders: product views (``POST /api/analytics/events``)
  and cart additions (``cart.item.added``). ``weight`` is how many happenings the row stands for:
  1 for a live event, more for the seed's per-day demo rows.

``demo`` marks the seeded synthetic history so it can be told apart (and removed) later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 64
CURRENCY_LENGTH = 3
STATUS_LENGTH = 16
KIND_LENGTH = 16
NAME_LENGTH = 200
SKU_LENGTH = 64

PLACED = "placed"
PAID = "paid"
FAILED = "failed"
CANCELLED = "cancelled"

VIEW = "view"
CART = "cart"


class Base(DeclarativeBase):
    metadata = service_metadata()


class OrderFact(Base):
    __tablename__ = "order_facts"

    order_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    currency: Mapped[str | None] = mapped_column(String(CURRENCY_LENGTH), nullable=True)
    subtotal: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    shipping: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    units: Mapped[int] = mapped_column(Integer, default=0)
    checkout_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When checkout ended (placed or failed): the funnel's "checkout" step."""
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_order_facts_paid_at", "paid_at"),
        Index("ix_order_facts_checkout_at", "checkout_at"),
        Index("ix_order_facts_user_checkout", "user_id", "checkout_at"),
    )


class OrderFactLine(Base):
    __tablename__ = "order_fact_lines"

    order_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("order_facts.order_id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    """The line total in minor units of the order's currency."""

    __table_args__ = (Index("ix_order_fact_lines_product", "product_id"),)


class Activity(Base):
    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_activity_kind_time", "kind", "occurred_at"),)


metadata = Base.metadata
