"""Service tokens for real: identity mints them, the chassis fetches and caches them, and a route
guarded by the service role admits them and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agora.platform.auth.service_tokens import ServiceTokenError, ServiceTokenProvider
from agora.platform.settings import Environment, PlatformSettings
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services import identity
from agora.services.identity import IdentitySettings
from tests.support.probe import ProbeSettings, spec

TOKENS = "/api/identity/service-tokens"


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator:
    data = tmp_path_factory.mktemp("svc-tokens")
    platform = platform_for_tests(data)  # no JWKS override: every service verifies identity's keys
    settings = {
        "identity": IdentitySettings(database_url=f"sqlite+aiosqlite:///{data / 'identity.db'}"),
        "probe": ProbeSettings(database_url=f"sqlite+aiosqlite:///{data / 'probe.db'}"),
    }
    async with running_services([identity.spec, spec], platform, settings) as running:
        yield running


async def test_identity_mints_a_service_token_that_other_services_accept(stack) -> None:  # type: ignore[no-untyped-def]
    client, embedded = stack
    platform: PlatformSettings = embedded.platform
    response = await client.post(
        TOKENS, json={"service": "orders", "secret": platform.service_secret.get_secret_value()}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert response.json()["expires_in"] == platform.service_token_ttl_seconds
    who = await client.get("/api/probe/whoami", headers={"Authorization": f"Bearer {token}"})
    assert who.json() == {"id": "service:orders", "roles": ["service"]}
    internal = await client.get("/api/probe/internal", headers={"Authorization": f"Bearer {token}"})
    assert internal.status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"service": "orders", "secret": "wrong"}, 401),
        ({"service": "orders"}, 422),
        ({"service": "Orders!", "secret": "x"}, 422),
        ({"service": "orders", "secret": "x", "role": "admin"}, 422),
    ],
)
async def test_bad_credentials_get_no_token(stack, body: dict[str, str], status: int) -> None:  # type: ignore[no-untyped-def]
    client, _ = stack
    response = await client.post(TOKENS, json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert "access_token" not in response.text


async def test_a_customer_cannot_use_internal_routes_but_its_service_can(stack) -> None:  # type: ignore[no-untyped-def]
    client, _ = stack
    email = "svc-tokens@example.com"
    await client.post(
        "/api/identity/register", json={"email": email, "password": "a long passphrase 42", "display_name": "S"}
    )
    login = await client.post("/api/identity/login", json={"email": email, "password": "a long passphrase 42"})
    user = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await client.get("/api/probe/internal", headers=user)).status_code == 403
    assert (await client.get("/api/probe/internal")).status_code == 401
    relayed = await client.post("/api/probe/relay-as-service", headers=user)
    assert relayed.status_code == 200, relayed.text
    assert relayed.json() == {"id": "service:probe"}


async def test_the_provider_caches_and_renews(stack) -> None:  # type: ignore[no-untyped-def]
    _, embedded = stack
    context = embedded.contexts["probe"]
    now = [0.0]
    provider = ServiceTokenProvider(
        "probe", embedded.platform, lambda: context.clients("identity"), clock=lambda: now[0]
    )
    first = await provider()
    assert await provider() == first  # cached
    now[0] += embedded.platform.service_token_ttl_seconds  # past the renewal point
    renewed = await provider()
    assert renewed != first
    subject = await context.token_verifier.verify(renewed)
    assert subject.id == "service:probe" and subject.has_role("service")


async def test_a_wrong_secret_is_an_error_not_a_token(stack) -> None:  # type: ignore[no-untyped-def]
    _, embedded = stack
    context = embedded.contexts["probe"]
    wrong = PlatformSettings(environment=Environment.test, service_secret="not the secret")
    provider = ServiceTokenProvider("probe", wrong, lambda: context.clients("identity"))
    with pytest.raises(ServiceTokenError):
        await provider()


def test_the_development_secret_is_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="AGORA_SERVICE_SECRET"):
        PlatformSettings(environment=Environment.production, secret_key="s" * 40, data_dir=tmp_path)
