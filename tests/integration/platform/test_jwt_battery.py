"""The JWT attack battery over HTTP, against a guarded route of every service, with identity's
real signing key (so each forgery is refused for its own flaw, not merely for an unknown key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from agora.platform.auth.keys import generate_private_key, load_private_pem, public_jwk
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services import catalog, identity
from agora.services.identity.models import SigningKey

# a guarded route of every service: (method, path, body)
GUARDED = {
    "identity": ("GET", "/api/identity/me", None),
    "catalog": (
        "POST",
        "/api/catalog/products",
        {"sku": "JWT-0001", "name": "x", "price": {"amount": 1, "currency": "USD"}, "category": "home"},
    ),
}


@pytest.fixture(scope="module")
async def platform_with_identity(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, ec.EllipticCurvePrivateKey, str]]:
    # no jwks_file: the catalog must get identity's keys through its service client, as in production
    platform = platform_for_tests(tmp_path_factory.mktemp("jwt"))
    async with running_services([identity.spec, catalog.spec], platform, seed=True) as (client, embedded):
        account = {"email": "battery@example.org", "password": "a long enough passphrase"}
        assert (await client.post("/api/identity/register", json=account)).status_code == 201
        login = (await client.post("/api/identity/login", json=account)).json()
        async with embedded.contexts["identity"].sessions() as session:
            row = (await session.execute(select(SigningKey).where(SigningKey.retired_at.is_(None)))).scalar_one()
        yield client, load_private_pem(row.private_key_pem.encode()), login["refresh_token"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "agora-identity",
        "aud": "agora",
        "sub": "someone",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j",
        "typ": "access",
        "roles": ["admin"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": public_jwk(key)["kid"], **headers})


def _unsigned(alg: str, kid: str) -> str:
    header = _b64(json.dumps({"alg": alg, "kid": kid}).encode())
    return f"{header}.{_b64(json.dumps(_claims()).encode())}."


def _hs256_with_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = _b64(json.dumps({"alg": "HS256", "kid": public_jwk(key)["kid"]}).encode())
    signing_input = f"{header}.{_b64(json.dumps(_claims()).encode())}"
    return f"{signing_input}.{_b64(hmac.new(public, signing_input.encode(), hashlib.sha256).digest())}"


Forgery = Callable[[ec.EllipticCurvePrivateKey, str], str]
FORGERIES: dict[str, Forgery] = {
    "alg none": lambda key, _: _unsigned("none", public_jwk(key)["kid"]),
    "alg noNE": lambda key, _: _unsigned("noNE", public_jwk(key)["kid"]),
    "hs256 signed with the public key": lambda key, _: _hs256_with_public_key(key),
    "kid with path traversal": lambda key, _: _signed(key, _claims(), kid="../../../../etc/passwd"),
    "foreign jku": lambda key, _: _signed(generate_private_key(), _claims(), jku="https://attacker.example/jwks.json"),
    "expired beyond skew": lambda key, _: _signed(key, _claims(exp=int(time.time()) - 300, iat=int(time.time()) - 900)),
    "nbf in the future": lambda key, _: _signed(key, _claims(nbf=int(time.time()) + 600)),
    "wrong iss": lambda key, _: _signed(key, _claims(iss="evil")),
    "wrong aud": lambda key, _: _signed(key, _claims(aud="elsewhere")),
    "missing aud": lambda key, _: _signed(key, _claims(aud=None)),
    "refresh token as access token": lambda _, refresh: refresh,
    "refresh typ in a signed token": lambda key, _: _signed(key, _claims(typ="refresh")),
    "stripped signature": lambda key, _: _signed(key, _claims()).rsplit(".", 1)[0] + ".",
}


@pytest.mark.parametrize("service", sorted(GUARDED))
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_every_forgery_is_401_on_every_service(platform_with_identity, service: str, forgery: str) -> None:  # type: ignore[no-untyped-def]
    client, key, refresh = platform_with_identity
    method, path, body = GUARDED[service]
    token = FORGERIES[forgery](key, refresh)
    response = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, (forgery, response.text)
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_genuine_admin_token_passes_the_same_guards(platform_with_identity) -> None:  # type: ignore[no-untyped-def]
    client, key, _ = platform_with_identity
    # sanity check of the battery itself: identity's key with correct claims is accepted by the
    # catalog (admin), so the 401s above come from each flaw, not from a broken key setup
    token = _signed(key, _claims(sub="admin-battery"))
    method, path, body = GUARDED["catalog"]
    response = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
