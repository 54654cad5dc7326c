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
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, WithJsonSchema

from agora.contracts.base import Contract, Event
from agora.contracts.catalog import Money

#: Event types, stable strings (topic ``shipping``).
SHIPMENT_CREATED = "shipping.shipment.created"
SHIPMENT_DELIVERED = "shipping.shipment.delivered"

#: The CloudEvents ``source`` of every shipping event.
SOURCE = "agora/shipping"

Zone = Literal["domestic", "north_america", "europe", "rest_of_world"]
ShipmentStatus = Literal["created", "delivered"]

#: The 249 officially assigned ISO 3166-1 alpha-2 codes (ISO 3166 Maintenance Agency, 2024 list):
#: the countries an address may name. Codes that are only reserved (``UK``, ``EU``, ``XK``...) or
#: user-assigned are refused: a shipping label needs a code every carrier's customs system knows.
COUNTRY_CODES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
    """.split()
)


def country_code(value: str) -> str:
    """Pydantic after-validator: one of :data:`COUNTRY_CODES`."""
    if value not in COUNTRY_CODES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code in capitals, e.g. US, DE, JP")
    return value


#: An ISO 3166-1 alpha-2 code; the JSON schema lists them all (not a pattern that would call any
#: two capitals valid).
CountryCode = Annotated[
    str,
    AfterValidator(country_code),
    WithJsonSchema({"type": "string", "enum": sorted(COUNTRY_CODES), "description": "ISO 3166-1 alpha-2, upper case."}),
]


class Quote(Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``POST /api/shipping/quote``: the cost is always in US dollars (convert with the currency service)."""

    cost: Money
    service_level: Literal["standard"] = "standard"
    estimated_days: int
    zone: Zone
    item_count: int


class Shipment(Contract):
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


class Destination(Contract):
    """Where a parcel goes, as a caller sends it; shipping validates it strictly (422 naming the field)."""

    country: str
    postal_code: str
    city: str | None = None
    region: str | None = None
    line1: str | None = None
    line2: str | None = None
    name: str | None = None


class ParcelItem(Contract):
    sku: str
    quantity: int


class QuoteRequest(Contract):
    """``POST /api/shipping/quote``."""

    address: Destination
    items: list[ParcelItem]
    currency: str | None = None


class ShipmentRequest(Contract):
    """``POST /api/shipping/shipments`` (a label needs ``city`` and ``line1``)."""

    order_id: str
    address: Destination
    items: list[ParcelItem]


class ShipmentCreated(Event):
    """``shipping.shipment.created``: a paid order was handed to a carrier."""

    event_type: ClassVar[str] = SHIPMENT_CREATED

    shipment_id: str
    order_id: str
    tracking_id: str
    carrier: str
    zone: Zone
    estimated_days: int
    created_at: datetime


class ShipmentDelivered(Event):
    """``shipping.shipment.delivered``: the carrier delivered it (an admin confirmed it)."""

    event_type: ClassVar[str] = SHIPMENT_DELIVERED

    shipment_id: str
    order_id: str
    tracking_id: str
    carrier: str
    delivered_at: datetime


__all__ = [
    "COUNTRY_CODES",
    "SHIPMENT_CREATED",
    "SHIPMENT_DELIVERED",
    "SOURCE",
    "CountryCode",
    "Destination",
    "ParcelItem",
    "Quote",
    "QuoteRequest",
    "Shipment",
    "ShipmentCreated",
    "ShipmentDelivered",
    "ShipmentRequest",
    "ShipmentStatus",
    "Zone",
]
