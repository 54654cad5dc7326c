"""The shipping service's one table: ``shipments``.

One shipment per order (``order_id`` is unique): that constraint is what makes creating a
shipment idempotent even when two requests for one order race. ``tracking_id`` is unique too,
and random (see :func:`agora.services.shipping.service.new_tracking_id`). The address and the
item lines are stored as sent (JSON): shipping reads them back whole and never queries inside.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
ORDER_ID_LENGTH = 64
TRACKING_ID_LENGTH = 15
STATUS_LENGTH = 16
CARRIER_LENGTH = 40
ACTOR_LENGTH = 200


class Base(DeclarativeBase):
    metadata = service_metadata()


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(ORDER_ID_LENGTH), unique=True)
    tracking_id: Mapped[str] = mapped_column(String(TRACKING_ID_LENGTH), unique=True)
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    carrier: Mapped[str] = mapped_column(String(CARRIER_LENGTH))
    service_level: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    zone: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    estimated_days: Mapped[int] = mapped_column(Integer)
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # the admin list pages newest first by (created_at, id)
    __table_args__ = (Index("ix_shipments_created", "created_at", "id"),)


metadata = Base.metadata
