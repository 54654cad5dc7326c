"""Pytest fixtures for tokens: a signing key, its JWKS file, and a factory of access tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from agora.platform.auth.keys import generate_private_key, jwks_document, mint_access_token

TEST_ISSUER = "agora-identity"
TEST_AUDIENCE = "agora"

TokenFactory = Callable[..., str]

#: the session's shared tokens outlive the whole suite (a 10-minute token expired mid-run)
SESSION_TOKEN_TTL_SECONDS = 12 * 3600


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return generate_private_key()


@pytest.fixture(scope="session")
def jwks_file(signing_key: ec.EllipticCurvePrivateKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "jwks.json"
    path.write_bytes(orjson.dumps(jwks_document([signing_key])))
    return path


@pytest.fixture(scope="session")
def token_factory(signing_key: ec.EllipticCurvePrivateKey) -> TokenFactory:
    def mint(*, roles: Iterable[str] = ("customer",), subject: str = "user-1", **kwargs: Any) -> str:
        kwargs.setdefault("issuer", TEST_ISSUER)
        kwargs.setdefault("audience", TEST_AUDIENCE)
        return mint_access_token(signing_key, subject=subject, roles=roles, **kwargs)

    return mint


@pytest.fixture(scope="session")
def admin_token(token_factory: TokenFactory) -> str:
    return token_factory(roles=["admin"], subject="admin-1", ttl_seconds=SESSION_TOKEN_TTL_SECONDS)


@pytest.fixture(scope="session")
def customer_token(token_factory: TokenFactory) -> str:
    return token_factory(roles=["customer"], subject="customer-1", ttl_seconds=SESSION_TOKEN_TTL_SECONDS)
