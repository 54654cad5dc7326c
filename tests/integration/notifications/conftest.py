"""Identity and notifications running together, each on its own database, with a real SMTP server.

Users are real identity accounts (registered, logged in); notifications verifies their tokens
from identity's JWKS and looks their addresses up on identity's internal route, as in production.
Events are handed to notifications' consumer (``dispatch``, as a transport delivers them).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.platform.messaging import Consumer, Envelope, inbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.services import identity, notifications
from agora.services.notifications.handlers import consumers
from agora.services.notifications.models import Email, Notification
from agora.services.notifications.runtime import notifications_runtime
from tests.support.stack import User

from .support import Catcher, smtp_server

API = "/api/notifications"
PASSWORD = "a long enough test passphrase"


@dataclass
class Notifications:
    client: httpx.AsyncClient
    embedded: Any
    smtp: Catcher
    consumer: Consumer

    @property
    def context(self) -> Any:
        return self.embedded.contexts["notifications"]

    async def user(self) -> User:
        email = f"n-{uuid.uuid4().hex[:12]}@example.org"
        registered = await self.client.post("/api/identity/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        login = await self.client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        me = await self.client.get("/api/identity/me", headers={"Authorization": f"Bearer {token}"})
        return User(id=me.json()["id"], email=email, token=token)

    async def deliver(self, envelope: Envelope) -> None:
        await self.consumer.dispatch(envelope)
        await notifications_runtime(self.context).settled()  # its after-commit work (cache, push) has run

    async def list(self, user: User, **params: Any) -> dict[str, Any]:
        response = await self.client.get(API, params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def counts(self) -> dict[str, int]:
        """Rows and read marks: what "nothing changed" is checked against."""
        async with self.context.sessions() as session:
            return {
                "notifications": int(await session.scalar(select(func.count()).select_from(Notification)) or 0),
                "read": int(
                    await session.scalar(
                        select(func.count()).select_from(Notification).where(Notification.read_at.is_not(None))
                    )
                    or 0
                ),
                "emails": int(await session.scalar(select(func.count()).select_from(Email)) or 0),
                "inbox": int(await session.scalar(select(func.count()).select_from(inbox)) or 0),
            }


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Catcher, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
async def notif(
    database_backend: str, smtp: tuple[Catcher, int], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Notifications]:
    catcher, port = smtp
    tmp = tmp_path_factory.mktemp("notifications")
    async with service_databases(database_backend, ["identity", "notifications"], tmp) as urls:
        platform = platform_for_tests(tmp, jwks_file=None)
        settings = {
            "identity": identity.IdentitySettings(database_url=urls["identity"]),
            "notifications": notifications.NotificationsSettings(
                database_url=urls["notifications"],
                smtp_host="127.0.0.1",
                smtp_port=port,
                mail_interval_seconds=3600,
                recent_size=10,
            ),
        }
        specs = [identity.spec, notifications.spec]
        async with running_services(specs, platform, settings) as (client, embedded):
            (consumer,) = consumers(embedded.contexts["notifications"])
            yield Notifications(client, embedded, catcher, consumer)
