"""What every contract model shares: the compatibility rule, and an event's type on its class.

Fields are only ever added (with defaults); consumers ignore fields they do not know
(``extra="ignore"``). An event model names its type once, on the class
(``event_type: ClassVar[str] = "shipping.shipment.created"``), so a producer writes
``outbox.add(session, ShipmentCreated(...))`` and the topic is read from it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Event(Contract):
    """An event's ``data``; subclasses set ``event_type`` (its first dotted segment is the topic)."""

    event_type: ClassVar[str]


__all__ = ["Contract", "Event"]
