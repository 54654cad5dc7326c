"""What identity records when a session ends or a user is disabled, and serves to every service.

Tokens name their session (``sid``); logout and disabling write a ``revocations`` row and an
outbox event in the same transaction; ``GET /internal/revocations`` (service tokens only) lists
every entry in force, which every service's periodic sync merges (platform/auth/revocations.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from agora.contracts.identity import SESSION_REVOKED, USER_DISABLED
from agora.services.identity.settings import IdentitySettings

from .conftest import API, Identity
from .test_internal import _service_headers, _user_id


def _sid(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


async def test_logout_and_disabling_are_recorded_and_served_to_services(identity: Identity) -> None:
    email, headers = await identity.new_user()
    user_id = await _user_id(identity, headers)
    tokens = await identity.login(email)
    refreshed = await identity.client.post(f"{API}/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    # rotation keeps the session: the new access token carries the same sid
    sid = _sid(tokens["access_token"])
    assert _sid(refreshed.json()["access_token"]) == sid

    started = datetime.now(UTC)
    logout = await identity.client.post(f"{API}/logout", json={"refresh_token": refreshed.json()["refresh_token"]})
    assert logout.status_code == 204
    _, admin = await identity.new_user(role="admin")
    disabled = await identity.client.patch(f"{API}/users/{user_id}", json={"is_active": False}, headers=admin)
    assert disabled.status_code == 200, disabled.text

    listed = await identity.client.get(f"{API}/internal/revocations", headers=await _service_headers(identity))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    sessions = {entry["session_id"]: entry for entry in body["sessions"]}
    users = {entry["user_id"]: entry for entry in body["users"]}
    assert sessions[sid]["user_id"] == user_id
    lifetime = IdentitySettings().access_token_ttl_seconds + identity.context.platform.jwt_leeway_seconds
    expires = datetime.fromisoformat(sessions[sid]["expires_at"])
    assert started + timedelta(seconds=lifetime - 5) < expires < started + timedelta(seconds=lifetime + 5)
    assert datetime.fromisoformat(users[user_id]["not_before"]) >= started - timedelta(seconds=1)

    ended = [e for e in await identity.events(SESSION_REVOKED) if e["data"]["session_id"] == sid]
    cut_off = [e for e in await identity.events(USER_DISABLED) if e["data"]["user_id"] == user_id]
    assert len(ended) == 1 and len(cut_off) == 1


async def test_only_services_read_the_revocations(identity: Identity) -> None:
    _, customer = await identity.new_user()
    _, admin = await identity.new_user(role="admin")
    assert (await identity.client.get(f"{API}/internal/revocations")).status_code == 401
    for headers in (customer, admin):
        assert (await identity.client.get(f"{API}/internal/revocations", headers=headers)).status_code == 403


async def test_an_access_token_alone_logs_its_own_session_out(identity: Identity) -> None:
    """The web's form logout has no refresh token (its cookie is scoped to this API)."""
    email, _ = await identity.new_user()
    ended, kept = await identity.login(email), await identity.login(email)
    out = await identity.client.post(f"{API}/logout", headers={"Authorization": f"Bearer {ended['access_token']}"})
    assert out.status_code == 204, out.text
    spent = await identity.client.post(f"{API}/refresh", json={"refresh_token": ended["refresh_token"]})
    assert spent.status_code == 401
    again = await identity.client.post(f"{API}/logout", headers={"Authorization": f"Bearer {ended['access_token']}"})
    assert again.status_code == 401  # the token's session is over: it authenticates nothing, not even this
    going_on = await identity.client.post(f"{API}/refresh", json={"refresh_token": kept["refresh_token"]})
    assert going_on.status_code == 200
