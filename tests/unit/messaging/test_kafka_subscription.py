"""A Kafka subscription outlives a refused commit (the broker restarted and forgot the member):
it polls again, and the next batch is handled. The real broker's restart is in
tests/faults/test_broker_down.py, where this killed notifications' consumer now and then."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError

from agora.platform.messaging.envelope import Envelope
from agora.platform.messaging.transports import kafka
from agora.platform.messaging.transports.kafka import KafkaSubscription

PARTITION = TopicPartition("orders", 0)


def record(offset: int) -> ConsumerRecord[bytes, bytes]:
    value = Envelope(type="orders.order.paid", source="agora/test", data={"offset": offset}).to_bytes()
    return ConsumerRecord("orders", 0, offset, 0, 0, None, value, None, 0, len(value), ())


class RestartedBroker:
    """A consumer whose first commit is refused, as after a broker restart; records 0, then 1."""

    def __init__(self) -> None:
        self.batches = [[record(0)], [record(1)]]
        self.commits: list[int] = []
        self.refused = 0

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        if not self.batches:
            await asyncio.Event().wait()  # nothing more: the subscription waits, as on an idle topic
        return {PARTITION: self.batches.pop(0)}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not self.refused:
            self.refused += 1
            raise CommitFailedError("the group rebalanced: this member is unknown")
        self.commits.append(offsets[PARTITION])

    def seek(self, partition: TopicPartition, offset: int) -> None:
        raise AssertionError("no record was refused by the handler")

    async def stop(self) -> None:
        pass


async def test_a_refused_commit_does_not_end_the_subscription(monkeypatch: Any) -> None:
    monkeypatch.setattr(kafka, "RETRY_PAUSE_SECONDS", 0)
    consumer = RestartedBroker()
    handled: list[int] = []
    both = asyncio.Event()

    async def handler(envelope: Envelope) -> None:
        handled.append(envelope.data["offset"])
        if len(handled) == 2:
            both.set()

    subscription = KafkaSubscription("kafka:orders:notifications", consumer, handler, retry_delay=0)  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(both.wait(), timeout=5)
    finally:
        await subscription.stop()
    assert handled == [0, 1]
    assert consumer.refused == 1 and consumer.commits == [2]
