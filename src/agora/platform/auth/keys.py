"""Signing keys and token minting (ES256).

Identity owns the real keys; this module holds what both identity and the test tooling need:
turn an EC key into a JWK, publish a JWKS, mint an access token.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterable
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret


def _b64(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x), "y": _b64(numbers.y)}
    # RFC 7638 thumbprint as the key id: stable for the key, meaningless to an attacker
    canonical = orjson.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, option=orjson.OPT_SORT_KEYS)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    return {**jwk, "kid": thumbprint, "use": "sig", "alg": ALGORITHM}


def jwks_document(keys: Iterable[ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey]) -> dict[str, Any]:
    return {"keys": [public_jwk(key) for key in keys]}


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_pem(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the signing key must be an EC P-256 private key")
    return key


def mint_access_token(
    key: ec.EllipticCurvePrivateKey,
    *,
    subject: str,
    roles: Iterable[str],
    issuer: str,
    audience: str,
    ttl_seconds: int = 600,
    extra_claims: dict[str, Any] | None = None,
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "typ": ACCESS_TOKEN_TYPE,
        "roles": sorted(set(roles)),
        **(extra_claims or {}),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": public_jwk(key)["kid"], "typ": "at+jwt"})
