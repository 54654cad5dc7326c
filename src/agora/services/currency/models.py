"""The currency's one table: ``rates``, one row per supported currency.

``rate_per_usd`` is an exact decimal kept as its canonical text (``"0.92"``), on every database.
``Numeric(20, 10)`` would be exact on PostgreSQL and MariaDB, but SQLite has no decimal type and
hands back a binary float, and a rate that is not exactly what the admin typed is a wrong rate.
The text is always written by :class:`DecimalText` from a validated ``Decimal`` (at most 20
digits, 10 after the point), so it is as exact as ``Numeric(20, 10)`` and compares the same way
in tests on all three backends.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow
from agora.services.currency.conversion import canonical

CODE_LENGTH = 3
RATE_TEXT_LENGTH = 32
UPDATED_BY_LENGTH = 200


class DecimalText(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as its canonical plain text (see the module docstring)."""

    impl = String(RATE_TEXT_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError("DecimalText needs a finite Decimal")
        return canonical(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    metadata = service_metadata()


class Rate(Base):
    __tablename__ = "rates"

    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    rate_per_usd: Mapped[Decimal] = mapped_column(DecimalText)
    exponent: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(UPDATED_BY_LENGTH))


metadata = Base.metadata
