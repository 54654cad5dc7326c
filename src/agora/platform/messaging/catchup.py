"""Readiness of a service's events: ready to serve means caught up with what was waiting at start.

A service whose state comes from other services' events (inventory's stock from the catalog's
products) answers wrongly until it has handled the events that were waiting when it started: a
checkout in that window fails for stock that exists. So ``/readyz`` includes ``events``, which
turns ready once, after start-up, (1) the service's relay has published every event its outbox
held at start, then (2) each of its consumers that ``holds_readiness`` (those whose state the
service answers from) has no unacknowledged message left on its topics.
Once reached it stays reached: a burst of traffic later is lag, not unreadiness (a replica
leaving the load balancer under load would only make the lag worse).

Events from other services count only if they were in the broker before this service started:
``agora up`` publishes the seed's events to the broker before it starts any service
(:func:`publish_outbox`), which is what makes the first ``ready`` mean "every demo product has
stock". A broker that cannot report a group's backlog (Kafka, for now) does not hold readiness back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from agora.platform.messaging.consumer import Consumer
from agora.platform.messaging.relay import OutboxRelay


class NotCaughtUp(RuntimeError):
    """Events that were waiting at start-up are still being published or handled."""


class StartupCatchUp:
    """The ``events`` readiness check of one running service."""

    def __init__(
        self, relay: OutboxRelay, consumers: Sequence[Consumer], *, started_at: datetime | None = None
    ) -> None:
        self._relay = relay
        self._consumers = [consumer for consumer in consumers if consumer.holds_readiness]
        self._started_at = started_at or datetime.now(UTC)
        self.caught_up = False

    async def check(self) -> None:
        """Returns when caught up; raises :class:`NotCaughtUp` saying with what it is not."""
        if self.caught_up:
            return
        # the order matters: only what was published before the backlog is read can be counted in it
        if not await self._relay.published_before(self._started_at):
            raise NotCaughtUp("publishing the events waiting in the outbox since start-up")
        for consumer in self._consumers:
            waiting = await consumer.backlog()
            if waiting:
                raise NotCaughtUp(f"{consumer.name} has {waiting} events to handle")
        self.caught_up = True


async def publish_outbox(relay: OutboxRelay) -> int:
    """Publishes everything waiting in ``relay``'s outbox now; returns how many events."""
    total = 0
    while published := await relay.run_once():
        total += published
    return total


__all__ = ["NotCaughtUp", "StartupCatchUp", "publish_outbox"]
