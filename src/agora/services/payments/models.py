"""The payments tables: ``charges`` and ``refunds``.

What is deliberately missing: the card number and the CVC. A charge keeps the brand, the last
four digits and the expiry, which is what a receipt or a support agent needs and what PCI DSS
allows to be stored in the clear. Ids are uuid4 strings minted before the insert so the outbox
event of the same transaction can carry them; amounts are minor units in a 64-bit integer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
REFERENCE_LENGTH = 64
#: Order and user ids come from other services; bounded, not assumed to be UUIDs.
EXTERNAL_ID_LENGTH = 64
STATUS_LENGTH = 16
BRAND_LENGTH = 16
FAILURE_CODE_LENGTH = 40
FAILURE_MESSAGE_LENGTH = 200

CAPTURED = "captured"
DECLINED = "declined"
REFUNDED = "refunded"


class Base(DeclarativeBase):
    metadata = service_metadata()


class Charge(Base):
    __tablename__ = "charges"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    card_brand: Mapped[str] = mapped_column(String(BRAND_LENGTH))
    card_last4: Mapped[str] = mapped_column(String(4))
    card_exp_month: Mapped[int] = mapped_column(Integer)
    card_exp_year: Mapped[int] = mapped_column(Integer)
    provider_reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH), default=None)
    failure_code: Mapped[str | None] = mapped_column(String(FAILURE_CODE_LENGTH), default=None)
    failure_message: Mapped[str | None] = mapped_column(String(FAILURE_MESSAGE_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # order_id while this charge holds the order's money (captured), NULL otherwise. Unique (NULLs
    # never collide): an order has at most one captured charge even when two callers race with
    # different Idempotency-Keys, on every database (MariaDB has no partial unique index).
    captured_order_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True, default=None)

    # one-to-zero-or-one, joined in the same SELECT: a charge document is one query
    refund: Mapped[Refund | None] = relationship(lazy="joined", uselist=False)

    __table_args__ = (
        # the saga's recovery asks "is there a charge for this order?"; lists page newest first
        Index("ix_charges_order_id", "order_id", "created_at"),
        Index("ix_charges_created", "created_at", "id"),
    )


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # unique: one full refund per charge, whatever races the callers run
    charge_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("charges.id", ondelete="RESTRICT"), unique=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


metadata = Base.metadata
