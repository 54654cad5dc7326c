"""Reactions to other services' events, and the service's periodic work.

Payments consumes no events: the checkout saga calls it over HTTP, and a refund is an explicit
request, never a side effect of someone else's event. Its only background work is forgetting
idempotency keys past their 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from agora.platform.idempotency import purge_task
from agora.platform.tasks import PeriodicTask

if TYPE_CHECKING:
    from agora.platform.messaging import Consumer
    from agora.platform.service import ServiceContext


def consumers(_context: ServiceContext) -> Iterable[Consumer]:
    return ()


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    return [purge_task(context)]
