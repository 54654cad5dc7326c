"""Revocations to every replica of a service at once, through Redis pub/sub.

Replicas of a service share the broker group ``<service>.revocations``, so one of them takes each
of identity's revocation events. With ``AGORA_REDIS_URL`` set, that replica publishes the event
on its service's channel (``agora:<service>:revocations``) and every replica, itself included,
applies what arrives there: the others know within milliseconds instead of at their next sync.
A publication that fails or a message dropped on a full queue costs only that speed-up; the
periodic sync still converges. Imported only when Redis is configured.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from redis.asyncio import Redis

from agora.platform.auth.revocations import TOPIC, RevocationList, is_revocation
from agora.platform.fanout import CONFIRM_TIMEOUT_SECONDS, RedisFanout
from agora.platform.messaging.envelope import Envelope

log = structlog.get_logger(__name__)


class ReplicaFanout:
    def __init__(self, revocations: RevocationList, redis: Redis, service: str) -> None:
        self._revocations = revocations
        self._redis = redis
        self._fanout = RedisFanout(redis, channel=f"agora:{service}:revocations", name=f"{service}.revocations")
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribes (confirmed by Redis) and starts applying what the siblings hand over;
        raises when Redis does not answer in time."""
        await asyncio.wait_for(self._fanout.start(), CONFIRM_TIMEOUT_SECONDS)
        ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(ready), name="revocations:replicas")
        await ready.wait()

    async def _listen(self, ready: asyncio.Event) -> None:
        async with self._fanout.subscribe(TOPIC) as queue:
            ready.set()
            while (document := await queue.get()) is not None:
                self._revocations.apply_event(str(document.get("type")), document.get("data") or {})

    async def handle(self, envelope: Envelope) -> None:
        """The broker group's handler: apply, then hand the event to the sibling replicas."""
        await self._revocations.apply(envelope)
        if not is_revocation(envelope.type):
            return
        try:
            await self._fanout.publish(TOPIC, {"type": envelope.type, "data": envelope.data})
        except Exception as exc:  # Redis away: the siblings' sync brings it within seconds
            log.warning("revocation_fanout_failed", error=type(exc).__name__)

    async def close(self) -> None:
        await self._fanout.close()  # ends the listener's queue
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await self._redis.aclose()
