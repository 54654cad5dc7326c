"""Kafka transport on aiokafka.

Publishing waits for ``acks=all``. Consuming uses a consumer group with auto-commit off: an
offset is committed only after the handler returned for that message, so a crash between
handling and commit redelivers (at-least-once) and never skips. Messages with the same key go
to the same partition and keep their order.

The idempotent producer is left off on purpose: the outbox already tolerates re-publishing,
and Kafka-compatible brokers used in tests (tansu) do not implement InitProducerId.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

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

#: Pause before polling again after a failed poll or commit (the client reconnects meanwhile).
RETRY_PAUSE_SECONDS = 0.5


def _key(key: str | None) -> bytes | None:
    return key.encode() if key is not None else None


def _headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    # Binary-mode hints so tools can route without parsing the body; the body stays structured.
    return [("ce_type", envelope.type.encode()), ("ce_id", envelope.id.encode())]


class KafkaSubscription:
    def __init__(self, name: str, consumer: AIOKafkaConsumer, handler: Handler, retry_delay: float) -> None:
        self._consumer = consumer
        self._handler = handler
        self._retry_delay = retry_delay
        self._task = asyncio.create_task(self._run(), name=name)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        try:
            while True:
                try:
                    batches = await self._consumer.getmany(timeout_ms=500, max_records=200)
                    for partition, records in batches.items():
                        await self._handle_partition(partition, records)
                except KafkaError as exc:
                    # The subscription must outlive the broker: a restarted broker has forgotten the
                    # group's members, so the first commit after it is refused (CommitFailedError)
                    # until this member joins again, which the next poll does. What was not
                    # committed is delivered again (at least once; the inbox makes it once).
                    log.warning("kafka poll or commit failed (%s); polling again", type(exc).__name__)
                    await asyncio.sleep(RETRY_PAUSE_SECONDS)
        finally:
            # Leaving the group promptly hands our partitions to the other members now rather
            # than after the session timeout; uncommitted offsets are redelivered to them.
            await asyncio.shield(self._consumer.stop())

    async def _handle_partition(self, partition: TopicPartition, records: list[ConsumerRecord]) -> None:
        done: int | None = None
        try:
            for record in records:
                if not await self._handle(record):
                    # Not acknowledged: rewind so this record (and those after it) come again.
                    self._consumer.seek(partition, record.offset)
                    await asyncio.sleep(self._retry_delay)
                    break
                done = record.offset + 1
        finally:
            if done is not None:
                await asyncio.shield(self._consumer.commit({partition: done}))

    async def _handle(self, record: ConsumerRecord) -> bool:
        outcome = await deliver(self._handler, record.value, log, offset=record.offset)
        return outcome is not Delivery.RETRY


class KafkaTransport(Transport):
    """``kafka://host:port[,host:port]?session_timeout_ms=10000``."""

    def __init__(self, bootstrap_servers: str, **options: Any) -> None:
        self._bootstrap = bootstrap_servers
        self._session_timeout_ms = int(options.get("session_timeout_ms", 10_000))
        self._request_timeout_ms = int(options.get("request_timeout_ms", 10_000))
        self._retry_delay = float(options.get("retry_delay", 0.05))
        self._producer: AIOKafkaProducer | None = None
        self._subscriptions: list[KafkaSubscription] = []

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=False,
            request_timeout_ms=self._request_timeout_ms,
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise TransportError(f"kafka unreachable at {self._bootstrap}: {exc}") from exc
        self._producer = producer

    async def close(self) -> None:
        await stop_all(self._subscriptions)
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise TransportError("KafkaTransport.start() was not called")
        return self._producer

    async def ping(self) -> None:
        producer = self._started()
        try:
            ok = await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=5)
        except (KafkaError, TimeoutError) as exc:
            raise TransportError(f"kafka unreachable: {exc!r}") from exc
        if ok is None:
            raise TransportError("kafka returned no metadata")

    async def publish(self, topic: str, envelope: Envelope, *, key: str | None = None) -> None:
        await self.publish_many([Outgoing(topic, envelope, key)])

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        producer = self._started()
        try:
            # Queue everything first so the producer batches, then wait for every ack.
            pending = [
                await producer.send(m.topic, m.envelope.to_bytes(), key=_key(m.key), headers=_headers(m.envelope))
                for m in messages
            ]
            await asyncio.gather(*pending)
        except KafkaError as exc:
            raise TransportError(f"kafka publish failed: {exc!r}") from exc

    async def subscribe(self, topic: str, group: str, handler: Handler) -> KafkaSubscription:
        try:
            # Asking for the topic's partitions creates it on brokers that auto-create topics;
            # a group subscribed to a missing topic would otherwise idle until a metadata refresh.
            await asyncio.wait_for(self._started().partitions_for(topic), self._request_timeout_ms / 1000)
        except (KafkaError, TimeoutError) as exc:
            raise TransportError(f"kafka topic {topic!r} unavailable: {exc!r}") from exc
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self._bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(self._session_timeout_ms // 6, 100),
            request_timeout_ms=max(self._request_timeout_ms, self._session_timeout_ms + 5000),
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise TransportError(f"kafka unreachable at {self._bootstrap}: {exc}") from exc
        subscription = KafkaSubscription(f"kafka:{topic}:{group}", consumer, handler, self._retry_delay)
        self._subscriptions.append(subscription)
        return subscription
