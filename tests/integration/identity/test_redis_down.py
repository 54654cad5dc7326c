"""Redis down degrades only what needs it: logins answer a retryable 503, the rest keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services.identity import IdentitySettings, spec

pytestmark = pytest.mark.backend("redis")


async def test_login_answers_503_when_the_throttle_store_is_unreachable(tmp_path: Path) -> None:
    settings = IdentitySettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}",
        throttle_storage_url="async+redis://127.0.0.1:1",  # nothing listens there
    )
    async with running_services([spec], platform_for_tests(tmp_path), {"identity": settings}) as (client, _):
        account = {"email": "down@example.org", "password": "a long enough passphrase"}
        assert (await client.post("/api/identity/register", json=account)).status_code == 201
        response = await client.post("/api/identity/login", json=account)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert (await client.get("/api/identity/.well-known/jwks.json")).status_code == 200
