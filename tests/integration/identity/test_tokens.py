"""Refresh-token rotation, reuse detection, logout, and signing-key rotation."""

from __future__ import annotations

from sqlalchemy import select

from agora.platform.auth import TokenVerifier
from agora.platform.testing.auth import TEST_AUDIENCE, TEST_ISSUER
from agora.services.identity import rotate_signing_key
from agora.services.identity.models import RefreshToken
from agora.services.identity.service import hash_refresh_token

from .conftest import API, Identity, bearer


async def refresh(identity: Identity, token: str) -> tuple[int, dict]:
    response = await identity.client.post(f"{API}/refresh", json={"refresh_token": token})
    return response.status_code, response.json()


async def test_refresh_rotates_and_the_new_access_token_works(identity: Identity) -> None:
    tokens = await identity.login(await identity.register())
    status, rotated = await refresh(identity, tokens["refresh_token"])
    assert status == 200
    assert rotated["refresh_token"] != tokens["refresh_token"]
    me = await identity.client.get(f"{API}/me", headers=bearer(rotated["access_token"]))
    assert me.status_code == 200


async def test_reusing_a_spent_refresh_token_revokes_the_whole_family(identity: Identity) -> None:
    tokens = await identity.login(await identity.register())
    status, first = await refresh(identity, tokens["refresh_token"])
    assert status == 200

    status, problem = await refresh(identity, tokens["refresh_token"])  # the thief, or the victim
    assert status == 401 and problem["status"] == 401

    # the token the first refresh handed out stops working too
    status, _ = await refresh(identity, first["refresh_token"])
    assert status == 401
    async with identity.context.sessions() as session:
        row = (
            (
                await session.execute(
                    select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(first["refresh_token"]))
                )
            )
            .scalars()
            .one()
        )
        family = (await session.execute(select(RefreshToken).where(RefreshToken.family_id == row.family_id))).scalars()
        assert all(token.revoked_at is not None for token in family)


async def test_only_the_hash_of_a_refresh_token_is_stored(identity: Identity) -> None:
    tokens = await identity.login(await identity.register())
    async with identity.context.sessions() as session:
        hashes = set((await session.execute(select(RefreshToken.token_hash))).scalars())
    assert tokens["refresh_token"] not in hashes
    assert hash_refresh_token(tokens["refresh_token"]) in hashes


async def test_logout_revokes_the_session_but_not_other_devices(identity: Identity) -> None:
    email = await identity.register()
    phone = await identity.login(email)
    laptop = await identity.login(email)
    response = await identity.client.post(f"{API}/logout", json={"refresh_token": phone["refresh_token"]})
    assert response.status_code == 204
    assert (await refresh(identity, phone["refresh_token"]))[0] == 401
    assert (await refresh(identity, laptop["refresh_token"]))[0] == 200


async def test_unknown_refresh_token_is_401(identity: Identity) -> None:
    status, problem = await refresh(identity, "x" * 43)
    assert status == 401 and problem["status"] == 401


async def test_rotated_key_still_verifies_old_tokens_and_signs_new_ones(identity: Identity) -> None:
    email = await identity.register()
    before = await identity.login(email)
    async with identity.context.sessions() as session:
        new_kid = await rotate_signing_key(session)
        await session.commit()
    after = await identity.login(email)

    jwks = (await identity.client.get(f"{API}/.well-known/jwks.json")).json()
    kids = [key["kid"] for key in jwks["keys"]]
    assert new_kid in kids and len(kids) >= 2
    assert all("d" not in key for key in jwks["keys"])  # public halves only

    async def fetch() -> dict:
        return jwks

    verifier = TokenVerifier(fetch, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    old_subject = await verifier.verify(before["access_token"])
    new_subject = await verifier.verify(after["access_token"])
    assert old_subject.id == new_subject.id
    assert (await identity.client.get(f"{API}/me", headers=bearer(before["access_token"]))).status_code == 200
    assert (await identity.client.get(f"{API}/me", headers=bearer(after["access_token"]))).status_code == 200


async def test_a_refresh_token_is_not_an_access_token(identity: Identity) -> None:
    tokens = await identity.login(await identity.register())
    me = await identity.client.get(f"{API}/me", headers=bearer(tokens["refresh_token"]))
    assert me.status_code == 401


async def test_concurrent_refreshes_with_one_token_never_both_succeed(identity: Identity) -> None:
    import asyncio

    tokens = await identity.login(await identity.register())
    results = await asyncio.gather(*(refresh(identity, tokens["refresh_token"]) for _ in range(4)))
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) <= 1, statuses
    assert all(status in (200, 401, 503) for status in statuses), statuses
