"""The Kafka-protocol broker stops and comes back: a consumer goes on by itself.

A restarted broker has forgotten the group's members: the first commit after the restart is
refused (``UnknownMemberId``, raised as ``CommitFailedError``) until the member joins again. The
subscription must outlive that, as it outlives a fetch that fails; what it could not commit is
delivered again after the re-join (at least once; the consumer's inbox makes the effect once).

The broker is a tansu of the test's own with its log in a private S3 server, so the restart keeps
topics and committed offsets, as a Kafka broker's log directories do.
"""

from __future__ import annotations

import asyncio

import pytest

from agora.platform.messaging import create_transport
from agora.platform.messaging.envelope import Envelope
from agora.platform.testing.brokers import PrivateTansu, unique_name

pytestmark = [pytest.mark.backend("kafka"), pytest.mark.timeout(150)]


async def test_a_consumer_outlives_the_broker_restarting(private_tansu: PrivateTansu) -> None:
    transport = create_transport(private_tansu.url)
    await transport.start()
    topic = unique_name("kafka-outage")
    handled: list[str] = []
    progress = asyncio.Event()

    async def handler(envelope: Envelope) -> None:
        handled.append(envelope.data["n"])
        progress.set()

    async def publish_and_see(name: str) -> None:
        await transport.publish(topic, Envelope(type=f"{topic}.noted", source="agora/test", data={"n": name}))
        async with asyncio.timeout(60):
            while name not in handled:
                progress.clear()
                await progress.wait()

    await transport.subscribe(topic, unique_name("group"), handler)
    try:
        await publish_and_see("before")
        await asyncio.to_thread(private_tansu.stop)
        await asyncio.sleep(8)  # the outage, longer than the group's session (6 s)
        await asyncio.to_thread(private_tansu.start)
        await publish_and_see("after")  # handled; its commit may be refused (the member is unknown)
        await publish_and_see("later")  # the subscription is still there
    finally:
        await transport.close()
    assert handled.count("before") == 1
    assert {"after", "later"} <= set(handled)
