"""Identity's signing keys: the active key signs access tokens, retired keys still verify.

Rotation (:func:`rotate_signing_key`) retires the active key and creates a new one. A retired
key stays in the JWKS until every token it signed has expired (``retired_at`` plus the access
token lifetime plus the verifiers' clock leeway), so rotation never logs anyone out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.auth.keys import generate_private_key, jwks_document, load_private_pem, private_pem, public_jwk
from agora.platform.db.types import utcnow
from agora.services.identity.models import SigningKey
from agora.services.identity.repository import IdentityRepository

#: Extra time a retired key stays published, for verifiers' clock skew.
PUBLISH_MARGIN = timedelta(minutes=5)


def _new_key(now: datetime) -> tuple[SigningKey, ec.EllipticCurvePrivateKey]:
    private = generate_private_key()
    row = SigningKey(
        kid=public_jwk(private)["kid"], private_key_pem=private_pem(private).decode("ascii"), created_at=now
    )
    return row, private


async def active_signing_key(session: AsyncSession) -> ec.EllipticCurvePrivateKey:
    """The key that signs new tokens; the first call on an empty database creates it."""
    row = await IdentityRepository(session).active_signing_key()
    if row is not None:
        return load_private_pem(row.private_key_pem.encode("ascii"))
    row, private = _new_key(utcnow())
    session.add(row)
    await session.flush()
    return private


async def rotate_signing_key(session: AsyncSession) -> str:
    """Retire the active key(s) and create a new one; returns the new key id. The caller commits."""
    now = utcnow()
    repository = IdentityRepository(session)
    while (current := await repository.active_signing_key()) is not None:
        current.retired_at = now
        await session.flush()
    row, _ = _new_key(now)
    session.add(row)
    await session.flush()
    return row.kid


async def jwks(session: AsyncSession, *, access_token_ttl_seconds: int) -> dict[str, Any]:
    """Public keys of the active key and of retired keys whose tokens may still be unexpired."""
    horizon = utcnow() - timedelta(seconds=access_token_ttl_seconds) - PUBLISH_MARGIN
    rows = await IdentityRepository(session).publishable_signing_keys(horizon)
    return jwks_document(load_private_pem(row.private_key_pem.encode("ascii")).public_key() for row in rows)
