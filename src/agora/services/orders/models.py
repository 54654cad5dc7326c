"""The orders' tables: ``orders`` and ``order_items`` (seed 003's order persistence).

* ids are uuid4 strings minted before the insert: the order id is also the inventory
  reservation id and part of the payment's idempotency key, so it must exist before any call;
* money is integer minor units of the order's currency;
* ``saga_step`` is how far the checkout got, written (and committed) before the next step
  begins, so a restarted process knows what to resume or compensate; ``lease_until`` says
  which process owns an unfinished saga until when (NULL once the saga has ended);
* ``shipping_address`` is the address as given, JSON text (an order keeps the address it was
  shipped to even if the customer edits their address book later);
* ``idempotency_key`` is the checkout's ``Idempotency-Key``: with ``user_id`` it finds the order
  a retried request belongs to.

The indexes of seed 003 keep their names (``idx_orders_created_at`` ...); the extra ones serve
the history page (user, newest first) and the recovery sweep.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
USER_ID_LENGTH = 64
SKU_LENGTH = 64
NAME_LENGTH = 200
CODE_LENGTH = 40
REASON_LENGTH = 500
IDEMPOTENCY_KEY_LENGTH = 255
PAYMENT_ID_LENGTH = 64
TRACKING_ID_LENGTH = 64


class Base(DeclarativeBase):
    metadata = service_metadata()


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    saga_step: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(Integer, default=0)
    shipping_cost: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH), nullable=True)
    failure_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The HTTP status the checkout answered the failure with (402, 409, 503...), for replays."""
    payment_id: Mapped[str | None] = mapped_column(String(PAYMENT_ID_LENGTH), nullable=True)
    card_brand: Mapped[str | None] = mapped_column(String(20), nullable=True)
    card_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    tracking_id: Mapped[str | None] = mapped_column(String(TRACKING_ID_LENGTH), nullable=True)
    shipping_address: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    items: Mapped[list[OrderItem]] = relationship(
        lazy="selectin", order_by="OrderItem.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'failed')", name="status"),
        CheckConstraint("subtotal >= 0 AND shipping_cost >= 0 AND total >= 0", name="amounts"),
        Index("idx_orders_created_at", "created_at"),
        Index("idx_orders_user_id", "user_id"),
        Index("idx_orders_user_created", "user_id", "created_at", "id"),
        Index("idx_orders_user_idempotency_key", "user_id", "idempotency_key"),
        Index("idx_orders_lease_until", "lease_until"),
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    """The line's place in the cart, so an order lists its lines as the customer saw them."""
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        Index("idx_order_items_order_id", "order_id"),
        Index("idx_order_items_product_id", "product_id"),
    )


metadata = Base.metadata
