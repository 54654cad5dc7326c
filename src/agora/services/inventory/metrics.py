"""Inventory's business numbers (Prometheus).

Module-level because the registry is process-global (embedded mode runs every service in one
process); they are counted only after the change committed, so a rolled-back request never
shows up as a reservation that happened.
"""

from __future__ import annotations

from prometheus_client import Counter

from agora.platform.observability.metrics import preinitialise

reservations_total = Counter(
    "agora_inventory_reservations_total",
    "Reservation requests by outcome: held, existing (an idempotent repeat), out_of_stock, unknown_sku.",
    ("outcome",),
)
reservation_transitions_total = Counter(
    "agora_inventory_reservation_transitions_total",
    "Reservations leaving 'held' or 'committed', by new state: committed, released, restocked, expired.",
    ("transition",),
)
expired_releases_total = Counter(
    "agora_inventory_expired_releases_total",
    "Held reservations the expiry sweep gave back because their time ran out.",
)
units_total = Counter(
    "agora_inventory_units_total",
    "Units moved by reservations, by movement: reserved, committed, released, restocked, expired.",
    ("movement",),
)

preinitialise(reservations_total, "held", "existing", "out_of_stock", "unknown_sku")
preinitialise(reservation_transitions_total, "committed", "released", "restocked", "expired")
preinitialise(units_total, "reserved", "committed", "released", "restocked", "expired")
