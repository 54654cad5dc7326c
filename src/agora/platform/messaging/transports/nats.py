"""NATS JetStream transport on nats-py.

Each topic is a stream (subject = topic, file storage) and each group a durable pull consumer
with explicit acks. A message is acked after its handler returned; a failed handler naks it
(redelivered after a short delay); a message handed out but unhandled when the subscription
stops is nak'd so the next member gets it at once instead of after ``ack_wait``. If the process
dies, JetStream redelivers after ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from typing import Any

from agora.platform.imports import hidden
from agora.platform.messaging.envelope import Envelope
from agora.platform.messaging.transports.base import (
    Delivery,
    Handler,
    Outgoing,
    Transport,
    TransportError,
    deliver,
    stop_all,
)

# nats-py imports aiohttp (~15 MiB resident, ~60 modules) only for its WebSocket transport, which
# this transport never uses (nats:// is TCP): imported without it (see agora.platform.imports)
with hidden("aiohttp"):
    import nats
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.errors import Error as NatsError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js import JetStreamContext
    from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
    from nats.js.errors import BadRequestError, NotFoundError


log = logging.getLogger(__name__)

#: how long closing may take: a drain while the server is away must not hold a shutdown
_CLOSE_SECONDS = 10.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def stream_name(topic: str) -> str:
    """Stream and durable names may not contain dots or wildcards; subjects may."""
    return _UNSAFE.sub("_", topic)


#: Pause before pulling again after a failed fetch (the client reconnects meanwhile).
RETRY_PAUSE_SECONDS = 0.5


class NatsSubscription:
    def __init__(self, name: str, sub: JetStreamContext.PullSubscription, handler: Handler, **opts: Any) -> None:
        self._sub = sub
        self._handler = handler
        self._batch = int(opts.get("batch", 100))
        self._nak_delay = float(opts.get("nak_delay", 0.05))
        self._task = asyncio.create_task(self._run(), name=name)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        try:
            while True:
                try:
                    messages = await self._sub.fetch(batch=self._batch, timeout=1)
                except (NatsTimeout, TimeoutError):
                    # an empty pull; nats-py raises its own TimeoutError or, from inside its fetch,
                    # asyncio's (the same as the builtin on 3.11): either way, pull again
                    continue
                except NatsError as exc:
                    # the connection is down or reconnecting: the subscription must outlive it
                    log.warning("nats fetch failed (%s); pulling again", type(exc).__name__)
                    await asyncio.sleep(RETRY_PAUSE_SECONDS)
                    continue
                await self._handle_batch(messages)
        finally:
            with contextlib.suppress(NatsError, TimeoutError):
                await asyncio.shield(self._sub.unsubscribe())

    async def _handle_batch(self, messages: list[Msg]) -> None:
        remaining = list(messages)
        try:
            while remaining:
                await self._handle(remaining[0])
                remaining.pop(0)
        finally:
            # Stopped mid-batch: give the unhandled ones back now, not after ack_wait.
            for message in remaining:
                with contextlib.suppress(NatsError):
                    await asyncio.shield(message.nak())

    async def _handle(self, message: Msg) -> None:
        outcome = await deliver(self._handler, message.data, log, subject=message.subject)
        if outcome is Delivery.DROP:
            await message.term()
        elif outcome is Delivery.RETRY:
            await message.nak(delay=self._nak_delay)
        else:
            await message.ack()


class NatsTransport(Transport):
    """``nats://host:port?ack_wait=30``."""

    def __init__(self, servers: str, **options: Any) -> None:
        self._servers = servers
        self._ack_wait = float(options.get("ack_wait", 30))
        self._options = options
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._streams: set[str] = set()
        self._subscriptions: list[NatsSubscription] = []

    async def start(self) -> None:
        if self._nc is not None:
            return
        try:
            self._nc = await nats.connect(
                servers=self._servers,
                connect_timeout=2,
                max_reconnect_attempts=-1,
                error_cb=self._on_error,
            )
        except (NatsError, OSError) as exc:
            raise TransportError(f"nats unreachable at {self._servers}: {exc!r}") from exc
        self._js = self._nc.jetstream()

    @staticmethod
    async def _on_error(exc: Exception) -> None:
        log.warning("nats connection error: %r", exc)

    async def close(self) -> None:
        await stop_all(self._subscriptions)
        if self._nc is None:
            return
        nc, self._nc, self._js = self._nc, None, None
        try:
            # drain flushes what was published; while the server is away (reconnecting) nats-py
            # refuses to drain or waits its drain timeout, so the close is bounded and forced
            await asyncio.wait_for(nc.drain(), timeout=_CLOSE_SECONDS)
        except (NatsError, TimeoutError, OSError) as exc:
            log.warning("nats drain failed (%r), closing the connection", exc)
        finally:
            if not nc.is_closed:
                await asyncio.wait_for(nc.close(), timeout=_CLOSE_SECONDS)

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise TransportError("NatsTransport.start() was not called")
        return self._js

    async def ping(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise TransportError("nats is not connected")
        try:
            await self._jetstream().account_info()
        except (NatsError, TimeoutError) as exc:
            raise TransportError(f"jetstream unavailable: {exc!r}") from exc

    async def _ensure_stream(self, topic: str) -> str:
        name = stream_name(topic)
        if name in self._streams:
            return name
        config = StreamConfig(name=name, subjects=[topic], storage=StorageType.FILE)
        try:
            await self._jetstream().add_stream(config)
        except BadRequestError as exc:
            # Already there with another config (an operator tuned retention): use it as it is.
            log.info("stream %s exists with another configuration: %s", name, exc)
        self._streams.add(name)
        return name

    async def publish(self, topic: str, envelope: Envelope, *, key: str | None = None) -> None:
        await self.publish_many([Outgoing(topic, envelope, key)])

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        js = self._jetstream()
        try:
            for topic in {m.topic for m in messages}:
                await self._ensure_stream(topic)
            # No Nats-Msg-Id: broker de-duplication would swallow a deliberate replay of a dead
            # letter; consumers de-duplicate with their inbox instead.
            acks = [js.publish(m.topic, m.envelope.to_bytes()) for m in messages]
            await asyncio.gather(*acks)
        except (NatsError, TimeoutError) as exc:
            raise TransportError(f"nats publish failed: {exc!r}") from exc

    async def backlog(self, topic: str, group: str) -> int | None:
        try:
            info = await self._jetstream().consumer_info(stream_name(topic), stream_name(group))
        except NotFoundError:
            return None
        except (NatsError, TimeoutError) as exc:
            raise TransportError(f"jetstream unavailable: {exc!r}") from exc
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def subscribe(self, topic: str, group: str, handler: Handler) -> NatsSubscription:
        js = self._jetstream()
        try:
            stream = await self._ensure_stream(topic)
            durable = stream_name(group)
            config = ConsumerConfig(
                durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=self._ack_wait, max_deliver=-1
            )
            sub = await js.pull_subscribe(topic, durable=durable, stream=stream, config=config)
        except (NatsError, TimeoutError) as exc:
            raise TransportError(f"nats subscribe failed: {exc!r}") from exc
        subscription = NatsSubscription(f"nats:{topic}:{group}", sub, handler, **self._options)
        self._subscriptions.append(subscription)
        return subscription
