"""Reactions to other services' events.

Orders drives the checkout over HTTP and learns nothing from events yet; delivery is marked by
an admin (``POST /api/orders/{id}/deliver``). When shipping publishes delivery confirmations,
their consumer goes here and is listed in the spec's ``consumers`` hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agora.platform.messaging import Consumer
    from agora.platform.service import ServiceContext


def consumers(_context: ServiceContext) -> Iterable[Consumer]:
    return ()
