"""What the shipping service answers and publishes (topic ``shipping``).

Orders quotes shipping with ``POST /api/shipping/quote`` and ships a paid order with
``POST /api/shipping/shipments`` (as a service); it parses the answers with :class:`Quote` and
:class:`Shipment` and never imports the shipping service. Notifications and orders follow
``shipping.shipment.created`` / ``delivered``, which carry the order id and the tracking id.

Compatibility rule: fields are only ever added (with defaults); consumers ignore fields they do
not know (``extra="ignore"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agora.contracts.catalog import Money

#: Event types, stable strings (topic ``shipping``).
SHIPMENT_CREATED = "shipping.shipment.created"
SHIPMENT_DELIVERED = "shipping.shipment.delivered"

#: The CloudEvents ``source`` of every shipping event.
SOURCE = "agora/shipping"

Zone = Literal["domestic", "north_america", "europe", "rest_of_world"]
ShipmentStatus = Literal["created", "delivered"]


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Quote(_Contract):
    """``POST /api/shipping/quote``: the cost is always in US dollars (convert with the currency service)."""

    cost: Money
    service_level: Literal["standard"] = "standard"
    estimated_days: int
    zone: Zone
    item_count: int


class Shipment(_Contract):
    """A shipment as ``POST/GET /api/shipping/shipments`` return it (address and items omitted here)."""

    id: str
    order_id: str
    tracking_id: str
    status: ShipmentStatus
    carrier: str
    service_level: str
    zone: Zone
    estimated_days: int
    created_at: datetime
    delivered_at: datetime | None = None


class ShipmentCreated(_Contract):
    """``shipping.shipment.created``: a paid order was handed to a carrier."""

    shipment_id: str
    order_id: str
    tracking_id: str
    carrier: str
    zone: Zone
    estimated_days: int
    created_at: datetime


class ShipmentDelivered(_Contract):
    """``shipping.shipment.delivered``: the carrier delivered it (an admin confirmed it)."""

    shipment_id: str
    order_id: str
    tracking_id: str
    carrier: str
    delivered_at: datetime


__all__ = [
    "SHIPMENT_CREATED",
    "SHIPMENT_DELIVERED",
    "SOURCE",
    "Quote",
    "Shipment",
    "ShipmentCreated",
    "ShipmentDelivered",
    "ShipmentStatus",
    "Zone",
]
