"""Redis Streams transport on redis.asyncio.

A topic is a stream (XADD), a group a consumer group (XGROUP CREATE ... MKSTREAM, from the
beginning). Members read with XREADGROUP and XACK after the handler returned. Unacked entries
stay in the group's pending list: a member first re-reads its own pending entries (id ``0``) —
which is what a consumer restarted in the same process gets — and periodically claims entries
another member left idle longer than ``claim_idle_ms`` (XAUTOCLAIM), which covers a member that
died for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

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

log = logging.getLogger(__name__)

_FIELD = b"envelope"
Entry = tuple[bytes, dict[bytes, bytes]]


class RedisSubscription:
    def __init__(
        self, client: aioredis.Redis, topic: str, group: str, consumer: str, handler: Handler, **opts: Any
    ) -> None:
        self._redis = client
        self._topic = topic
        self._group = group
        self._consumer = consumer
        self._handler = handler
        self._count = int(opts.get("count", 100))
        self._block_ms = int(opts.get("block_ms", 1000))
        self._claim_idle_ms = int(opts.get("claim_idle_ms", 60_000))
        self._retry_delay = float(opts.get("retry_delay", 0.05))
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"redis:{topic}:{group}")

    async def stop(self) -> None:
        # Ask the loop to finish rather than cancel it: cancelling redis-py in the middle of a
        # blocking XREADGROUP can leave the task stuck in "cancelling" forever (seen in the
        # poison-event test). Each read blocks at most block_ms, so the loop notices within it.
        self._stopping = True
        grace = self._block_ms / 1000 + 5
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if done:
            with contextlib.suppress(asyncio.CancelledError):
                self._task.result()
            return
        self._task.cancel()
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            log.error("redis subscription %s/%s did not stop; abandoning its task", self._topic, self._group)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_claim = 0.0
        while not self._stopping:
            # Entries this member holds unacked come first, so a failure is retried in order.
            if await self._drain_own_pending():
                await asyncio.sleep(self._retry_delay)
                continue
            if loop.time() >= next_claim:
                await self._claim_abandoned()
                next_claim = loop.time() + self._claim_idle_ms / 2000
            await self._handle_all(await self._read(">"))

    async def _read(self, start: str) -> list[Entry]:
        response: Any = await self._redis.xreadgroup(
            self._group,
            self._consumer,
            {self._topic: start},
            count=self._count,
            block=self._block_ms if start == ">" else None,
        )
        return [entry for _stream, entries in response or [] for entry in entries]

    async def _drain_own_pending(self) -> bool:
        """Re-handle what this consumer name read but never acked. True if one still fails."""
        while True:
            entries = await self._read("0")
            if not entries:
                return False
            if await self._handle_all(entries):
                return True

    async def _claim_abandoned(self) -> None:
        start = "0-0"
        while True:
            next_start, entries, *_ = await self._redis.xautoclaim(
                self._topic, self._group, self._consumer, self._claim_idle_ms, start, count=self._count
            )
            await self._handle_all([e for e in entries if e[1]])  # deleted entries come back empty
            start = next_start.decode() if isinstance(next_start, bytes) else next_start
            if start == "0-0":
                return

    async def _handle_all(self, entries: list[Entry]) -> bool:
        """Handle in order; stop at the first failure (it stays pending). True if one failed."""
        for entry_id, fields in entries:
            if not await self._handle(fields):
                return True
            await self._redis.xack(self._topic, self._group, entry_id)
        return False

    async def _handle(self, fields: dict[bytes, bytes]) -> bool:
        outcome = await deliver(self._handler, fields.get(_FIELD, b""), log)
        return outcome is not Delivery.RETRY


class RedisTransport(Transport):
    """``redis://host:port/db?claim_idle_ms=60000&maxlen=1000000&consumer=<name>``."""

    def __init__(self, url: str, **options: Any) -> None:
        self._url = url
        self._options = options
        maxlen = options.get("maxlen")
        self._maxlen = int(maxlen) if maxlen else None
        # Stable per process so a subscription restarted here re-reads its own pending entries.
        self._consumer = str(options.get("consumer") or f"{socket.gethostname()}-{os.getpid()}")
        self._redis: aioredis.Redis | None = None
        self._subscriptions: list[RedisSubscription] = []

    async def start(self) -> None:
        if self._redis is None:
            self._redis = aioredis.from_url(self._url, socket_connect_timeout=3, health_check_interval=30)

    async def close(self) -> None:
        await stop_all(self._subscriptions)
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise TransportError("RedisTransport.start() was not called")
        return self._redis

    async def ping(self) -> None:
        try:
            await self._client().ping()
        except (RedisError, OSError) as exc:
            raise TransportError(f"redis unreachable: {exc!r}") from exc

    async def publish(self, topic: str, envelope: Envelope, *, key: str | None = None) -> None:
        await self.publish_many([Outgoing(topic, envelope, key)])

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        try:
            async with self._client().pipeline(transaction=False) as pipe:
                for m in messages:
                    fields: dict[Any, Any] = {_FIELD: m.envelope.to_bytes(), b"type": m.envelope.type}
                    if m.key is not None:
                        fields[b"key"] = m.key
                    pipe.xadd(m.topic, fields, maxlen=self._maxlen, approximate=True)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TransportError(f"redis publish failed: {exc!r}") from exc

    async def backlog(self, topic: str, group: str) -> int | None:
        # XINFO GROUPS: "lag" (entries not delivered to the group yet; Redis 7, None when the
        # server cannot compute it) plus "pending" (delivered, not acknowledged)
        try:
            groups = await self._client().xinfo_groups(topic)
        except ResponseError:
            return None  # no such stream: nothing was ever published to it
        except (RedisError, OSError) as exc:
            raise TransportError(f"redis unreachable: {exc!r}") from exc
        for info in groups:
            name = info.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == group:
                lag = info.get("lag")
                return None if lag is None else int(lag) + int(info.get("pending") or 0)
        return None

    async def subscribe(self, topic: str, group: str, handler: Handler) -> RedisSubscription:
        client = self._client()
        try:
            await client.xgroup_create(topic, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise TransportError(f"redis subscribe failed: {exc!r}") from exc
        except (RedisError, OSError) as exc:
            raise TransportError(f"redis subscribe failed: {exc!r}") from exc
        subscription = RedisSubscription(client, topic, group, self._consumer, handler, **self._options)
        self._subscriptions.append(subscription)
        return subscription
