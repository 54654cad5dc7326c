"""Notifications consuming from real brokers (the Kafka protocol via tansu, and NATS JetStream):
an order event published twice makes one notification and one email; with a test-owned NATS
stopped, an event waits in the producer's outbox and arrives once after the restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.contracts.orders import ORDER_PAID
from agora.platform.db import unit_of_work
from agora.platform.messaging import Outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.brokers import PrivateNats
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import identity, notifications
from agora.services.notifications.models import Email, Notification

from .conftest import PASSWORD
from .support import Catcher, new_order_id, order_event, smtp_server

DEADLINE_SECONDS = 60.0


@asynccontextmanager
async def running(broker_url: str, tmp: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Catcher]]:
    with smtp_server() as (catcher, port):
        async with service_databases("sqlite", ["identity", "notifications"], tmp) as urls:
            platform = platform_for_tests(tmp, jwks_file=None, broker_url=broker_url)
            settings = {
                "identity": identity.IdentitySettings(database_url=urls["identity"]),
                "notifications": notifications.NotificationsSettings(
                    database_url=urls["notifications"], smtp_host="127.0.0.1", smtp_port=port
                ),
            }
            specs = [identity.spec, notifications.spec]
            async with running_services(specs, platform, settings) as (client, embedded):
                yield client, embedded, catcher


async def new_user(client: httpx.AsyncClient, name: str) -> str:
    email = f"{name}@example.org"
    await client.post("/api/identity/register", json={"email": email, "password": PASSWORD})
    token = (await client.post("/api/identity/login", json={"email": email, "password": PASSWORD})).json()
    me = await client.get("/api/identity/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    return str(me.json()["id"])


async def rows(embedded: Any, model: Any, order_id: str) -> int:
    async with embedded.contexts["notifications"].sessions() as session:
        statement = select(func.count()).select_from(model).where(model.order_id == order_id)
        return int(await session.scalar(statement) or 0)


def mails_for(catcher: Catcher, order_id: str) -> int:
    return sum(order_id in message.as_string() for message in catcher.messages())


@pytest.mark.parametrize("broker", ["kafka", "nats"])
async def test_an_event_published_twice_notifies_once(
    broker: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    broker_url = str(request.getfixturevalue(f"{broker}_url"))
    async with running(broker_url, tmp_path) as (client, embedded, catcher):
        user_id = await new_user(client, f"brokers-{broker}-{new_order_id()[:8]}")
        order_id = new_order_id()
        envelope = order_event(ORDER_PAID, order_id, user_id)
        transport = embedded.contexts["notifications"].transport
        await transport.publish(envelope.topic, envelope, key=envelope.subject)
        await transport.publish(envelope.topic, envelope, key=envelope.subject)  # delivered again

        async def mailed() -> bool:
            return mails_for(catcher, order_id) >= 1

        await eventually(mailed, what="the email", within=DEADLINE_SECONDS)
        assert await rows(embedded, Notification, order_id) == 1
        assert await rows(embedded, Email, order_id) == 1
        assert mails_for(catcher, order_id) == 1


@pytest.mark.backend("nats")
async def test_an_event_written_while_nats_is_down_arrives_once(private_nats: PrivateNats, tmp_path: Path) -> None:
    async with running(private_nats.url, tmp_path) as (client, embedded, catcher):
        user_id = await new_user(client, f"outage-{new_order_id()[:8]}")
        order_id = new_order_id()
        envelope = order_event(ORDER_PAID, order_id, user_id)
        private_nats.stop()
        # a producer (here: identity's own outbox and relay, standing in for orders) writes the event
        producer = embedded.contexts["identity"]
        async with unit_of_work(producer.sessions) as session:
            await Outbox(source="agora/orders").add(
                session, envelope.type, envelope.data, subject=order_id, key=order_id
            )
            await session.commit()
        producer.relay.notify()
        assert await rows(embedded, Notification, order_id) == 0

        private_nats.start()

        async def notified() -> bool:
            return await rows(embedded, Notification, order_id) == 1 and mails_for(catcher, order_id) == 1

        await eventually(notified, what="the notification and email after the restart", within=DEADLINE_SECONDS)
        assert await rows(embedded, Notification, order_id) == 1
