"""A login storm beyond the hash pool's queue is answered 503 with Retry-After, and changes nothing.

Identity hashes on a pool of its own threads (passwords.py): one thread here, one waiting place.
The test holds the thread with a job of its own, so which request waits and which is refused does
not depend on timing.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agora.platform.peers import runtime_in
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.waiting import eventually
from agora.services.identity import IdentitySettings, spec
from agora.services.identity.models import User
from agora.services.identity.runtime import IdentityRuntime

pytestmark = pytest.mark.backend("sqlite")

API = "/api/identity"
PASSWORD = "correct horse battery staple"


async def test_logins_beyond_the_queue_are_refused_with_retry_after(jwks_file: Path, tmp_path: Path) -> None:
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file)
    settings = IdentitySettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}",
        password_hash_threads=1,
        password_hash_queue=1,
    )
    async with running_services([spec], platform, {"identity": settings}) as (client, embedded):
        context = embedded.contexts["identity"]
        registered = await client.post(f"{API}/register", json={"email": "ada@example.com", "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        pool = runtime_in(context, IdentityRuntime).passwords.pool
        assert pool is not None

        gate, entered = threading.Event(), threading.Event()

        def hold() -> None:
            entered.set()
            assert gate.wait(10)

        holder = asyncio.create_task(pool.run(1, hold))
        try:
            assert await asyncio.to_thread(entered.wait, 10)
            waiting = asyncio.create_task(
                client.post(f"{API}/login", json={"email": "ada@example.com", "password": PASSWORD})
            )

            async def queued() -> bool:
                return pool.waiting == 1

            await eventually(queued, what="the first login waits for the hash pool")
            refused = [
                await client.post(f"{API}/register", json={"email": "bob@example.com", "password": PASSWORD}),
                await client.post(f"{API}/login", json={"email": "ada@example.com", "password": PASSWORD}),
            ]
        finally:
            gate.set()
            await holder
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert int(response.headers["Retry-After"]) >= 1
            assert "access_token" not in response.json()
        assert (await waiting).status_code == 200
        async with context.sessions() as session:
            emails = (await session.scalars(select(User.email))).all()
            assert emails == ["ada@example.com"]  # the refused registration wrote nothing
            assert await session.scalar(select(func.count()).select_from(User)) == 1
