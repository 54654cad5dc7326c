"""Register, log in, read yourself, refresh, log out: the round trip a new user makes."""

from __future__ import annotations

import orjson
from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import select

from agora.contracts.identity import USER_REGISTERED, UserRegistered
from agora.platform.auth import TokenVerifier
from agora.platform.testing.auth import TEST_AUDIENCE, TEST_ISSUER
from agora.services.identity.models import User

from .conftest import API, PASSWORD, Identity, bearer


async def test_register_login_me_round_trip(identity: Identity) -> None:
    response = await identity.client.post(
        f"{API}/register", json={"email": "  Ada.Lovelace@Example.COM ", "password": PASSWORD, "display_name": "Ada"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["email"] == "ada.lovelace@example.com"
    assert created["role"] == "customer" and created["is_active"] is True
    assert "password" not in response.text and "hash" not in response.text

    event = (await identity.events(USER_REGISTERED))[-1]
    assert UserRegistered.model_validate(event["data"]).user_id == created["id"]
    assert PASSWORD not in orjson.dumps(event).decode()

    tokens = await identity.login("ADA.lovelace@example.com")
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 600
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}

    me = await identity.client.get(f"{API}/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == created


async def test_access_token_is_accepted_by_the_chassis_verifier(identity: Identity) -> None:
    email = await identity.register()
    tokens = await identity.login(email)

    async def fetch() -> dict:
        response = await identity.client.get(f"{API}/.well-known/jwks.json")
        assert response.status_code == 200
        return response.json()

    verifier = TokenVerifier(fetch, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    subject = await verifier.verify(tokens["access_token"])
    user = await identity.user(email)
    assert subject.id == user.id and subject.roles == frozenset({"customer"})
    assert {"iss", "aud", "sub", "exp", "iat", "jti"} <= set(subject.claims)
    assert subject.claims["exp"] - subject.claims["iat"] == 600
    # the refresh token is opaque, not a JWT anyone could present as an access token
    assert tokens["refresh_token"].count(".") == 0


async def test_duplicate_email_in_any_spelling_is_409_naming_email(identity: Identity) -> None:
    email = await identity.register()
    before = await identity.counts()
    response = await identity.client.post(f"{API}/register", json={"email": email.upper(), "password": PASSWORD})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["email"]
    assert await identity.counts() == before


async def test_wrong_password_and_unknown_email_get_the_same_401(identity: Identity) -> None:
    email = await identity.register()
    wrong = await identity.client.post(f"{API}/login", json={"email": email, "password": "not the password"})
    unknown = await identity.client.post(
        f"{API}/login", json={"email": "nobody-here@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == {**unknown.json(), "instance": wrong.json()["instance"]}
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_stored_hash_is_argon2id_with_owasp_parameters(identity: Identity) -> None:
    email = await identity.register()
    user = await identity.user(email)
    parameters = extract_parameters(user.password_hash)
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= 19_456 and parameters.time_cost >= 2 and parameters.parallelism >= 1
    assert PASSWORD not in user.password_hash


async def test_login_rehashes_a_hash_made_with_other_parameters(identity: Identity) -> None:
    email = await identity.register()
    old = PasswordHasher(time_cost=3, memory_cost=19_456, parallelism=1, type=Type.ID).hash(PASSWORD)
    async with identity.context.sessions() as session:
        user = (await session.execute(select(User).where(User.email == email))).scalars().one()
        user.password_hash = old
        await session.commit()

    await identity.login(email)

    rehashed = (await identity.user(email)).password_hash
    assert rehashed != old
    assert extract_parameters(rehashed).time_cost == 2
    await identity.login(email)  # the new hash still verifies the same password


async def test_disabled_user_cannot_log_in_or_use_their_token(identity: Identity) -> None:
    email = await identity.register()
    tokens = await identity.login(email)
    async with identity.context.sessions() as session:
        user = (await session.execute(select(User).where(User.email == email))).scalars().one()
        user.is_active = False
        await session.commit()
    login = await identity.client.post(f"{API}/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 401
    me = await identity.client.get(f"{API}/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401
