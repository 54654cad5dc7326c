"""The shipping zone of each ISO 3166-1 alpha-2 country code.

The codes themselves are :data:`agora.contracts.shipping.COUNTRY_CODES` (a contract, so orders
and the storefront validate addresses exactly as shipping does).

Zones, from the point of view of a US warehouse:

* ``domestic``: the United States and the territories USPS delivers to at domestic rates
  (PR, GU, VI, AS, MP, UM);
* ``north_america``: Canada and Mexico;
* ``europe``: the European countries and dependencies (EU, EEA, UK, Switzerland, the Balkans,
  Ukraine, Moldova, Belarus, Russia, the microstates, the Channel Islands, the Isle of Man,
  the Faroes, Svalbard, Åland, Gibraltar);
* ``rest_of_world``: everything else.
"""

from __future__ import annotations

from typing import get_args

from agora.contracts.shipping import COUNTRY_CODES, Zone

DOMESTIC: frozenset[str] = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})
NORTH_AMERICA: frozenset[str] = frozenset({"CA", "MX"})
EUROPE: frozenset[str] = frozenset(
    """
    AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE
    LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA
    """.split()
)

ZONES: tuple[Zone, ...] = get_args(Zone)


def is_country(code: str) -> bool:
    return code in COUNTRY_CODES


def zone_of(country: str) -> Zone:
    """The shipping zone of an ISO 3166-1 alpha-2 code (``ValueError`` for anything else)."""
    if country not in COUNTRY_CODES:
        raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code")
    if country in DOMESTIC:
        return "domestic"
    if country in NORTH_AMERICA:
        return "north_america"
    if country in EUROPE:
        return "europe"
    return "rest_of_world"
