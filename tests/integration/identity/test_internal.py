"""``GET /api/identity/internal/users/{id}``: a user's address for another service (notifications).

Only a service token (role ``service``) reads it: a customer, even asking for themselves, gets
403; no token 401; an unknown id 404 naming the field; an over-long id 422.
"""

from __future__ import annotations

import uuid

from agora.platform.settings import DEVELOPMENT_SECRET

from .conftest import API, Identity, bearer


async def _service_headers(identity: Identity) -> dict[str, str]:
    response = await identity.client.post(
        f"{API}/service-tokens", json={"service": "notifications", "secret": DEVELOPMENT_SECRET}
    )
    assert response.status_code in (200, 201), response.text
    return bearer(response.json()["access_token"])


async def _user_id(identity: Identity, headers: dict[str, str]) -> str:
    me = await identity.client.get(f"{API}/me", headers=headers)
    assert me.status_code == 200, me.text
    return str(me.json()["id"])


async def test_a_service_reads_a_users_address(identity: Identity) -> None:
    email, headers = await identity.new_user()
    user_id = await _user_id(identity, headers)
    response = await identity.client.get(f"{API}/internal/users/{user_id}", headers=await _service_headers(identity))
    assert response.status_code == 200, response.text
    user = await identity.user(email)
    assert response.json() == {"id": user_id, "email": email, "display_name": user.display_name}


async def test_customers_and_anonymous_callers_are_refused(identity: Identity) -> None:
    _, headers = await identity.new_user()
    user_id = await _user_id(identity, headers)
    own = await identity.client.get(f"{API}/internal/users/{user_id}", headers=headers)
    assert own.status_code == 403
    assert own.headers["content-type"].startswith("application/problem+json")
    anonymous = await identity.client.get(f"{API}/internal/users/{user_id}")
    assert anonymous.status_code == 401


async def test_unknown_and_malformed_ids(identity: Identity) -> None:
    service = await _service_headers(identity)
    before = await identity.counts()
    unknown = await identity.client.get(f"{API}/internal/users/{uuid.uuid4()}", headers=service)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "user_id"
    too_long = await identity.client.get(f"{API}/internal/users/{'x' * 37}", headers=service)
    assert too_long.status_code == 422
    assert "user_id" in too_long.text
    assert await identity.counts() == before
