"""Identity running in-process on each database backend, migrated once per module."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from agora.platform.messaging import outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services.identity import IdentitySettings, spec
from agora.services.identity.models import Address, RefreshToken, SigningKey, User

API = "/api/identity"
PASSWORD = "correct horse battery staple"

_numbers = itertools.count(1)


@dataclass
class Identity:
    client: httpx.AsyncClient
    embedded: Any

    @property
    def context(self) -> Any:
        return self.embedded.contexts["identity"]

    async def counts(self) -> dict[str, int]:
        """Rows per table: what "nothing was written" is checked against."""
        async with self.context.sessions() as session:
            result = {}
            for name, table in (
                ("users", User),
                ("addresses", Address),
                ("refresh_tokens", RefreshToken),
                ("signing_keys", SigningKey),
                ("outbox", outbox),
            ):
                result[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
            return result

    async def user(self, email: str) -> User:
        async with self.context.sessions() as session:
            user = (await session.execute(select(User).where(User.email == email))).scalars().one()
            session.expunge(user)
            return user

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.context.sessions() as session:
            statement = select(outbox.c.payload).where(outbox.c.type == event_type).order_by(outbox.c.id)
            return [orjson.loads(row.payload) for row in (await session.execute(statement)).all()]

    async def register(self, email: str | None = None, password: str = PASSWORD) -> str:
        email = email or f"user{next(_numbers)}@example.com"
        response = await self.client.post(f"{API}/register", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return email

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.client.post(f"{API}/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()

    async def new_user(self, *, role: str = "customer") -> tuple[str, dict[str, str]]:
        """Registers (and promotes, straight in the database) a user; returns (email, auth header)."""
        email = await self.register()
        if role != "customer":
            async with self.context.sessions() as session:
                user = (await session.execute(select(User).where(User.email == email))).scalars().one()
                user.role = role
                await session.commit()
        tokens = await self.login(email)
        return email, bearer(tokens["access_token"])


@pytest.fixture(scope="module")
async def identity(
    database_url: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Identity]:
    platform = platform_for_tests(tmp_path_factory.mktemp("identity"), jwks_file=jwks_file)
    settings = {"identity": IdentitySettings(database_url=database_url)}
    async with running_services([spec], platform, settings) as (client, embedded):
        yield Identity(client, embedded)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
