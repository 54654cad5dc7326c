"""The ``CartStore`` port: where cart lines live, with the bounds enforced atomically by the store.

Two implementations: :class:`~agora.services.cart.redis_store.RedisCartStore` (one hash per
cart, Lua scripts for the checks that must be atomic; used when ``AGORA_REDIS_URL`` is set) and
:class:`~agora.services.cart.repository.SqlCartStore` (the ``cart_items`` table in the cart's own
database, inside the request's transaction; embedded mode). The integration suite runs the same
tests against both.

The bounds live here rather than in the service because a check followed by a separate write
would let two concurrent adds both pass the check (98 + 1 and 98 + 1 → 100): each store checks
and writes in one step (one Lua script; one conditional UPDATE).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class Limits:
    """The bounds a write must respect, and how long the cart lives after it."""

    max_quantity: int
    max_lines: int
    ttl_seconds: int


@dataclass(frozen=True)
class Line:
    product_id: str
    quantity: int


class Bound(StrEnum):
    quantity = "quantity"
    lines = "lines"


class LimitExceededError(Exception):
    """The write would break a bound; nothing was changed. ``current`` is the line's quantity
    (for ``quantity``) or the number of lines (for ``lines``) when the write was refused."""

    def __init__(self, bound: Bound, current: int) -> None:
        super().__init__(f"{bound} limit exceeded (current {current})")
        self.bound = bound
        self.current = current


class CartStore(Protocol):
    """One cart per owner (``user:<id>`` or ``anon:<cart id>``); every method is atomic."""

    async def lines(self, owner: str) -> list[Line]:
        """The cart's lines, oldest first (empty when the cart does not exist)."""
        ...

    async def add(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        """Adds ``quantity`` to the line (creating it); returns the new quantity.

        Raises :class:`LimitExceededError` when the line would exceed ``max_quantity`` or a new
        line would exceed ``max_lines``.
        """
        ...

    async def put(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        """Sets the line's quantity (creating it, within ``max_lines``); returns it."""
        ...

    async def remove(self, owner: str, product_id: str, limits: Limits) -> bool:
        """Deletes the line; False when it was not there."""
        ...

    async def clear(self, owner: str) -> int:
        """Deletes the whole cart; returns how many lines it had."""
        ...

    async def merge(self, source: str, target: str, limits: Limits) -> int:
        """Moves ``source``'s lines into ``target`` and deletes ``source``; returns how many lines moved.

        Quantities of a product in both carts add up, capped at ``max_quantity``. Lines that would
        take ``target`` past ``max_lines`` are dropped: merging happens at login and must never fail.
        """
        ...


__all__ = ["Bound", "CartStore", "LimitExceededError", "Limits", "Line"]
