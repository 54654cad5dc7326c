"""ISO 3166-1 alpha-2 country codes and the shipping zone of each (data, no dependency).

The 249 officially assigned codes (ISO 3166 Maintenance Agency, 2024 list). Codes that are only
reserved (``UK``, ``EU``, ``XK``...) or user-assigned are not countries here: a shipping label
needs a code every carrier's customs system knows.

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

from agora.contracts.shipping import Zone

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
