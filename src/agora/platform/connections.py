"""Caps on long-lived connections (Server-Sent Events, WebSockets): per user and in total.

A stream holds a task, a queue and a socket for as long as the client keeps it open, so one
client opening hundreds of them (a bug, a hostile script) would take the memory and file
descriptors every other user needs. Each process counts its own open connections; a connection
past a cap is refused before anything is allocated for it. With N replicas the whole platform
admits N times the total (the per-user cap holds per replica: a load balancer spreading one
user's connections could let them hold N times their share).

Hand-written: a counter per key in one event loop needs no library; rate limiters (``limits``)
count events in a window, not what is held right now.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class TooManyConnections(Exception):
    """The cap that refused the connection: ``"user"`` or ``"total"``."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"at most {limit} open connections {'per user' if scope == 'user' else 'in all'}")
        self.scope = scope
        self.limit = limit


@dataclass
class Slot:
    """One admitted connection; :meth:`release` (idempotent) gives its place back."""

    limiter: ConnectionLimiter
    user_id: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter._release(self.user_id)


@dataclass
class ConnectionLimiter:
    per_user: int
    total: int
    _by_user: Counter[str] = field(default_factory=Counter)
    _open: int = 0

    @property
    def open(self) -> int:
        return self._open

    def of(self, user_id: str) -> int:
        return self._by_user[user_id]

    def acquire(self, user_id: str) -> Slot:
        """A slot for one more connection of ``user_id``, or :class:`TooManyConnections`."""
        if self._by_user[user_id] >= self.per_user:
            raise TooManyConnections("user", self.per_user)
        if self._open >= self.total:
            raise TooManyConnections("total", self.total)
        self._by_user[user_id] += 1
        self._open += 1
        return Slot(self, user_id)

    def _release(self, user_id: str) -> None:
        self._open -= 1
        self._by_user[user_id] -= 1
        if self._by_user[user_id] <= 0:
            del self._by_user[user_id]


__all__ = ["ConnectionLimiter", "Slot", "TooManyConnections"]
