"""The access token names its user (email and display name) for services that show who wrote."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services import identity

pytestmark = pytest.mark.backend("sqlite")


async def test_access_token_carries_email_and_display_name(tmp_path: Path) -> None:
    async with running_services([identity.spec], platform_for_tests(tmp_path)) as (client, _):
        body = {"email": "Grace@Example.org", "password": "a long enough passphrase", "display_name": "Grace H."}
        assert (await client.post("/api/identity/register", json=body)).status_code == 201
        login = await client.post("/api/identity/login", json={"email": body["email"], "password": body["password"]})
        claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
    assert claims["email"] == "grace@example.org"
    assert claims["name"] == "Grace H."
    assert claims["roles"] == ["customer"]
