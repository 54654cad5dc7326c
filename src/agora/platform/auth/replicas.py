"""Revocations to every replica of a service at once, through Redis pub/sub.

Replicas of a service share the broker group ``<service>.revocations``, so one of them takes each
of identity's revocation events. With ``AGORA_REDIS_URL`` set, that replica publishes the event
on its service's channel (``agora:<service>:revocations``) and every replica, itself included,
applies what arrives there: the others know within milliseconds instead of at their next sync.
Messages keep the shape :class:`agora.platform.fanout.RedisFanout` gives them (``{"topic",
"document"}``), which replicas of the previous release read. A publication that fails or a
message lost while a connection is down costs only that speed-up; the periodic sync still
converges. Imported only when Redis is configured; it speaks to Redis through
:mod:`agora.platform.redis_channel`, so no service loads redis-py for this alone.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import structlog

from agora.platform.auth.revocations import TOPIC, RevocationList, is_revocation
from agora.platform.messaging.envelope import Envelope
from agora.platform.redis_channel import RedisChannel

log = structlog.get_logger(__name__)


class ReplicaFanout:
    def __init__(self, revocations: RevocationList, redis_url: str, service: str) -> None:
        self._revocations = revocations
        self._channel = RedisChannel(redis_url, f"agora:{service}:revocations")
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribes (confirmed by Redis) and starts applying what the siblings hand over;
        raises when Redis does not answer in time."""
        await self._channel.start()
        self._listener = asyncio.create_task(self._listen(), name="revocations:replicas")

    async def _listen(self) -> None:
        async for data in self._channel.messages():
            try:
                document = orjson.loads(data)["document"]
                self._revocations.apply_event(str(document["type"]), document.get("data") or {})
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                log.warning("revocation_fanout_malformed")

    async def handle(self, envelope: Envelope) -> None:
        """The broker group's handler: apply, then hand the event to the sibling replicas."""
        await self._revocations.apply(envelope)
        if not is_revocation(envelope.type):
            return
        try:
            document = {"type": envelope.type, "data": envelope.data}
            await self._channel.publish(orjson.dumps({"topic": TOPIC, "document": document}))
        except Exception as exc:  # Redis away: the siblings' sync brings it within seconds
            log.warning("revocation_fanout_failed", error=type(exc).__name__)

    async def close(self) -> None:
        await self._channel.close()  # ends the listener's messages
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
