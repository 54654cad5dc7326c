"""Shipping's rules: quoting, one shipment per order, and the created -> delivered lifecycle.

No web framework here and no commit: the request session commits a shipment and its outbox event
together. Refusals are :class:`agora.platform.errors.ServiceError` subclasses naming the field.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.shipping import ShipmentCreated, ShipmentDelivered
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import ConflictError, NotFoundError
from agora.platform.http.pagination import Cursors
from agora.platform.messaging import Outbox
from agora.services.shipping.models import Shipment
from agora.services.shipping.pricing import SERVICE_LEVEL, price
from agora.services.shipping.repository import ShipmentRepository
from agora.services.shipping.schemas import ShipmentCreate

CREATED = "created"
DELIVERED = "delivered"

TRACKING_PREFIX = "AGR"
TRACKING_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32: no 0/1/8/9 to misread
TRACKING_LENGTH = 12


#: The list a shipments cursor belongs to.
CURSOR_LIST = "shipments"


def new_tracking_id() -> str:
    """``AGR`` + 12 base32 characters from ``secrets``: 60 random bits, so a tracking id cannot be
    guessed from another one (they are not sequential) and collisions are negligible."""
    return TRACKING_PREFIX + "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def shipment_document(shipment: Shipment) -> dict[str, Any]:
    """A shipment as the API returns it (``agora.contracts.shipping.Shipment`` plus address and items)."""
    return {
        "id": shipment.id,
        "order_id": shipment.order_id,
        "tracking_id": shipment.tracking_id,
        "status": shipment.status,
        "carrier": shipment.carrier,
        "service_level": shipment.service_level,
        "zone": shipment.zone,
        "estimated_days": shipment.estimated_days,
        "address": shipment.address,
        "items": shipment.items,
        "created_at": iso_utc(shipment.created_at),
        "delivered_at": iso_utc(shipment.delivered_at),
    }


@dataclass(frozen=True)
class Created:
    shipment: Shipment
    created: bool
    """False when the order already had this shipment (an idempotent repeat)."""


class ShippingService:
    def __init__(self, session: AsyncSession, *, events: Outbox) -> None:
        self.session = session
        self.events = events
        self.repository = ShipmentRepository(session)

    async def get(self, shipment_id: str) -> Shipment:
        shipment = await self.repository.get(shipment_id) if _is_uuid(shipment_id) else None
        if shipment is None:
            raise NotFoundError(f"No shipment with id {shipment_id}.")
        return shipment

    async def by_order(self, order_id: str) -> Shipment | None:
        return await self.repository.by_order(order_id)

    async def page(self, *, limit: int, cursor: str | None, cursors: Cursors) -> tuple[list[Shipment], str | None]:
        """Newest first; a refused cursor is the chassis's 422 naming ``query.cursor``."""
        after = cursors.decode(cursor, tuple[datetime, str], of=CURSOR_LIST)
        rows = await self.repository.page(limit=limit + 1, after=after)
        return cursors.page(rows, limit, lambda shipment: (shipment.created_at, shipment.id), of=CURSOR_LIST)

    async def create(self, data: ShipmentCreate, *, actor: str) -> Created:
        """The order's shipment, created once: the same order again returns the same shipment.

        A repeat must describe the same parcel; one with another address or other items is a 409,
        because silently returning the first shipment would ship the wrong thing.
        """
        address = data.address.model_dump(exclude_none=True)
        items = [item.model_dump() for item in data.items]
        existing = await self.repository.by_order(data.order_id)
        if existing is None:
            inserted = await self._insert(data.order_id, address, items, actor=actor)
            if inserted.created:
                return inserted
            existing = inserted.shipment
        if existing.address != address or existing.items != items:
            raise ConflictError(
                f"Order {data.order_id} already has a shipment with another address or other items.",
                field="order_id",
            )
        return Created(existing, created=False)

    async def _insert(
        self, order_id: str, address: dict[str, Any], items: list[dict[str, Any]], *, actor: str
    ) -> Created:
        """Inserts the shipment and its event, or returns the row of a concurrent request that won."""
        quote = price(address["country"], (item["quantity"] for item in items))
        now = utcnow()
        shipment = Shipment(
            id=str(uuid.uuid4()),
            order_id=order_id,
            tracking_id=new_tracking_id(),
            status=CREATED,
            carrier=quote.carrier,
            service_level=SERVICE_LEVEL,
            zone=quote.zone,
            estimated_days=quote.estimated_days,
            address=address,
            items=items,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        try:
            await self.repository.add(shipment)
        except IntegrityError:
            # A concurrent request for the same order committed first. Nothing else was written in
            # this transaction yet (the event comes after the insert), so rolling it back loses
            # nothing, and the winner's row is then visible to read.
            await self.session.rollback()
            winner = await self.repository.by_order(order_id)
            if winner is None:  # the clash was the tracking id (60 random bits): a retry is safe
                raise ConflictError("Please retry: a tracking id clashed.", field="order_id") from None
            return Created(winner, created=False)
        created = ShipmentCreated(
            shipment_id=shipment.id,
            order_id=shipment.order_id,
            tracking_id=shipment.tracking_id,
            carrier=shipment.carrier,
            zone=quote.zone,
            estimated_days=shipment.estimated_days,
            created_at=shipment.created_at,
        )
        await self.events.add(self.session, created, subject=shipment.id, key=shipment.order_id)
        return Created(shipment, created=True)

    async def deliver(self, shipment_id: str) -> tuple[Shipment, bool]:
        """Marks the shipment delivered; a second call returns it unchanged (and publishes nothing)."""
        shipment = await self.repository.get(shipment_id, for_update=True) if _is_uuid(shipment_id) else None
        if shipment is None:
            raise NotFoundError(f"No shipment with id {shipment_id}.")
        if shipment.status == DELIVERED:
            return shipment, False
        now = utcnow()
        shipment.status = DELIVERED
        shipment.delivered_at = now
        shipment.updated_at = now
        await self.repository.flush()
        delivered = ShipmentDelivered(
            shipment_id=shipment.id,
            order_id=shipment.order_id,
            tracking_id=shipment.tracking_id,
            carrier=shipment.carrier,
            delivered_at=now,
        )
        await self.events.add(self.session, delivered, subject=shipment.id, key=shipment.order_id)
        return shipment, True


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
