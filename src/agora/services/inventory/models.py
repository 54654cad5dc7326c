"""Inventory's tables: ``stock``, ``reservations``, ``reservation_items``.

The rules that matter most live in the database, not in Python, so they hold under any
concurrency and whichever replica runs the statement:

* ``stock`` has CHECK constraints ``on_hand >= 0``, ``reserved >= 0`` and ``reserved <= on_hand``
  (SQLite, PostgreSQL and MariaDB >= 10.2 all enforce them): even a buggy statement cannot
  leave a negative or oversold row, it fails instead;
* every change is a conditional ``UPDATE`` (see :mod:`.repository`) whose ``WHERE`` states the
  precondition, and its row count says whether it applied.

``reservations.id`` is the caller's id (orders uses the order id), which is what makes a repeated
reservation request idempotent. ``(status, expires_at)`` is indexed for the expiry sweep.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.contracts.inventory import RESERVATION_ID_LENGTH, SKU_LENGTH
from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

STATUS_LENGTH = 16

HELD = "held"
COMMITTED = "committed"
RELEASED = "released"
EXPIRED = "expired"


class Base(DeclarativeBase):
    metadata = service_metadata()


class Stock(Base):
    __tablename__ = "stock"

    sku: Mapped[str] = mapped_column(String(SKU_LENGTH), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # bumped by every change, so a reader can tell two states of the row apart
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Reservation(Base):
    __tablename__ = "reservations"

    id: Mapped[str] = mapped_column(String(RESERVATION_ID_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_reservations_status_expires", "status", "expires_at"),)


class ReservationItem(Base):
    __tablename__ = "reservation_items"

    reservation_id: Mapped[str] = mapped_column(
        String(RESERVATION_ID_LENGTH), ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


metadata = Base.metadata
