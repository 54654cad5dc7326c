"""The order status machine: which status may follow which, and nothing else.

::

    pending ──> paid ──> shipped ──> delivered
       │          │
       └> failed  └> cancelled

A transition is applied as a conditional UPDATE (``... WHERE status = <from>``, see
``repository.py``), so two concurrent writers (a cancel racing a ship) cannot both win: the
loser changes no row and is answered 409.
"""

from __future__ import annotations

from enum import StrEnum

from agora.platform.errors import ConflictError


class Status(StrEnum):
    pending = "pending"
    paid = "paid"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"
    failed = "failed"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.pending: frozenset({Status.paid, Status.failed}),
    Status.paid: frozenset({Status.shipped, Status.cancelled}),
    Status.shipped: frozenset({Status.delivered}),
    Status.delivered: frozenset(),
    Status.cancelled: frozenset(),
    Status.failed: frozenset(),
}

_VERBS = {
    Status.paid: "paid",
    Status.failed: "failed",
    Status.shipped: "shipped",
    Status.cancelled: "cancelled",
    Status.delivered: "marked delivered",
}


class InvalidTransitionError(ConflictError):
    """The order is not in a status this change may start from."""

    field = "status"


def allowed(current: Status | str, target: Status | str) -> bool:
    return Status(target) in TRANSITIONS[Status(current)]


def check(current: Status | str, target: Status | str) -> None:
    """Raises :class:`InvalidTransitionError` (409) unless ``current -> target`` is allowed."""
    if not allowed(current, target):
        raise InvalidTransitionError(
            f"A {Status(current).value} order cannot be {_VERBS.get(Status(target), Status(target).value)}."
        )


def sources(target: Status | str) -> frozenset[Status]:
    """Every status ``target`` may be reached from (the WHERE of the conditional UPDATE)."""
    return frozenset(status for status, targets in TRANSITIONS.items() if Status(target) in targets)
