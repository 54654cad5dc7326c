"""The standard shipping rate card: a price per zone plus a price per extra unit, capped.

All amounts are US cents; quotes are always in US dollars (orders converts them into the order
currency with the currency service, like every other price).

=================  ==========  ===================  =========  ==============
zone               first unit  each further unit    cap        estimated days
=================  ==========  ===================  =========  ==============
domestic (US)          4.99            0.99           29.99          3
north_america          9.99            1.99           59.99          6
europe                14.99            2.99           89.99          8
rest_of_world         24.99            3.99          149.99         12
=================  ==========  ===================  =========  ==============

A unit is one piece: an item line of quantity 3 is three units. The cap keeps a large order
(up to 100 lines of 10,000) from being quoted an absurd amount: past it, one more unit is free.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agora.contracts.shipping import Zone
from agora.services.shipping.countries import zone_of

CURRENCY = "USD"
SERVICE_LEVEL = "standard"


@dataclass(frozen=True)
class ZoneRate:
    first_unit: int
    per_extra_unit: int
    cap: int
    estimated_days: int
    carrier: str


RATE_CARD: dict[Zone, ZoneRate] = {
    "domestic": ZoneRate(first_unit=499, per_extra_unit=99, cap=2_999, estimated_days=3, carrier="Agora Ground"),
    "north_america": ZoneRate(first_unit=999, per_extra_unit=199, cap=5_999, estimated_days=6, carrier="Agora Ground"),
    "europe": ZoneRate(
        first_unit=1_499, per_extra_unit=299, cap=8_999, estimated_days=8, carrier="Agora International"
    ),
    "rest_of_world": ZoneRate(
        first_unit=2_499, per_extra_unit=399, cap=14_999, estimated_days=12, carrier="Agora International"
    ),
}


@dataclass(frozen=True)
class PricedQuote:
    zone: Zone
    amount: int
    estimated_days: int
    carrier: str
    units: int

    def document(self) -> dict[str, object]:
        """The quote as the API returns it (``agora.contracts.shipping.Quote``)."""
        return {
            "cost": {"amount": self.amount, "currency": CURRENCY},
            "service_level": SERVICE_LEVEL,
            "estimated_days": self.estimated_days,
            "zone": self.zone,
            "item_count": self.units,
        }


def price(country: str, quantities: Iterable[int]) -> PricedQuote:
    """The standard-service quote for ``quantities`` (one per item line) shipped to ``country``."""
    units = sum(quantities)
    if units < 1:
        raise ValueError("a shipment has at least one unit")
    zone = zone_of(country)
    rate = RATE_CARD[zone]
    amount = min(rate.first_unit + rate.per_extra_unit * (units - 1), rate.cap)
    return PricedQuote(zone=zone, amount=amount, estimated_days=rate.estimated_days, carrier=rate.carrier, units=units)
