"""The verifier's revocation list: ended sessions and cut-off users refused, bounded by expiry."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from agora.platform.auth import InvalidToken, TokenVerifier
from agora.platform.auth.keys import generate_private_key, jwks_document, mint_access_token
from agora.platform.auth.revocations import (
    SESSION_REVOKED,
    USER_DISABLED,
    RevocationList,
    Revocations,
    RevocationSync,
    SessionRevoked,
    UserDisabled,
    leave_shared_sync,
    shared_sync,
)
from agora.platform.messaging.envelope import Envelope

KEY = generate_private_key()
ISSUER, AUDIENCE = "agora-identity", "agora"
NOW = datetime.now(UTC)
LATER = NOW + timedelta(minutes=10)


def token(subject: str = "u1", *, sid: str = "s1", issued: float | None = None) -> str:
    return mint_access_token(
        KEY,
        subject=subject,
        roles=["customer"],
        issuer=ISSUER,
        audience=AUDIENCE,
        extra_claims={"sid": sid},
        now=issued,
    )


def verifier(revocations: RevocationList) -> TokenVerifier:
    async def fetch() -> dict[str, object]:
        return jwks_document([KEY])

    return TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE, revocations=revocations)


def ended(sid: str, *, expires: datetime = LATER) -> SessionRevoked:
    return SessionRevoked(session_id=sid, user_id="u1", revoked_at=NOW, expires_at=expires)


async def test_a_revoked_session_is_refused_even_when_the_token_was_verified_before() -> None:
    revocations = RevocationList()
    check = verifier(revocations)
    ours, other = token(sid="s1"), token(sid="s2")
    assert (await check.verify(ours)).id == "u1"  # verified once: now in the verifier's cache
    revocations.revoke_session(ended("s1"))
    with pytest.raises(InvalidToken):
        await check.verify(ours)
    assert (await check.verify(other)).id == "u1"  # the user's other session goes on


async def test_a_cut_off_user_loses_older_tokens_only() -> None:
    revocations = RevocationList()
    check = verifier(revocations)
    before = token(issued=time.time() - 60)
    revocations.disable_user(UserDisabled(user_id="u1", not_before=datetime.now(UTC), expires_at=LATER))
    with pytest.raises(InvalidToken):
        await check.verify(before)
    after = token(issued=time.time() + 2)  # issued after the cut-off (re-enabled, logged in again)
    assert (await check.verify(after)).id == "u1"
    assert (await check.verify(token(subject="u2", issued=time.time() - 60))).id == "u2"


async def test_events_feed_the_list_and_malformed_ones_change_nothing() -> None:
    revocations = RevocationList()
    await revocations.apply(Envelope(type=SESSION_REVOKED, source="t", data=ended("s9").model_dump(mode="json")))
    await revocations.apply(Envelope(type=USER_DISABLED, source="t", data={"user_id": "u3"}))  # no times
    await revocations.apply(Envelope(type="identity.user.registered", source="t", data={"user_id": "u4"}))
    assert revocations.refuses({"sub": "u1", "sid": "s9", "iat": 1})
    assert len(revocations) == 1


def test_entries_go_once_every_token_they_cover_has_expired() -> None:
    revocations = RevocationList()
    revocations.revoke_session(ended("old", expires=NOW - timedelta(seconds=1)))
    revocations.revoke_session(ended("new"))
    revocations.disable_user(UserDisabled(user_id="u5", not_before=NOW, expires_at=NOW - timedelta(seconds=1)))
    revocations.prune(NOW.timestamp())
    assert len(revocations) == 1
    assert revocations.refuses({"sub": "u1", "sid": "new", "iat": 1})


async def test_the_sync_merges_what_identity_holds_and_survives_identity_being_away() -> None:
    revocations = RevocationList()
    answers: list[Revocations | Exception] = [
        ConnectionError("identity is starting"),
        Revocations(sessions=[ended("s7")], users=[]),
    ]

    async def fetch() -> Revocations:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    sync = RevocationSync(revocations, fetch, time.time)
    await sync()  # logged, not raised: the next run tries again
    assert not revocations.synced and len(revocations) == 0
    await sync()
    assert revocations.synced and revocations.refuses({"sub": "u1", "sid": "s7", "iat": 1})


async def test_the_services_of_one_process_share_one_sync() -> None:
    """Embedded mode: fifteen lists, one fetch per interval merged into each (not fifteen fetches)."""
    fetched: list[str] = []

    def fetcher(name: str) -> Callable[[], Awaitable[Revocations]]:
        async def fetch() -> Revocations:
            fetched.append(name)
            return Revocations(sessions=[ended("s9")], users=[])

        return fetch

    key = object()  # what the services have in common: their platform settings
    catalog, orders = RevocationList(), RevocationList()
    sync = shared_sync(key, "revocations.sync", 3600.0, time.time)
    assert shared_sync(key, "revocations.sync", 3600.0, time.time) is sync
    sync.join(catalog, fetcher("catalog"))
    sync.join(orders, fetcher("orders"))
    await sync.run()
    assert fetched in (["catalog"], ["catalog", "catalog"])  # the periodic first run may have run too
    assert catalog.refuses({"sub": "u1", "sid": "s9", "iat": 1}) and orders.refuses({"sub": "u1", "sid": "s9"})
    late = RevocationList()
    sync.join(late, fetcher("late"))  # the last answer, younger than an interval: at once
    assert late.synced and late.refuses({"sub": "u1", "sid": "s9", "iat": 1})
    await leave_shared_sync(key, catalog)
    fetched.clear()
    await sync.run()
    assert fetched == ["orders"], "the earliest member still joined fetches"
    await leave_shared_sync(key, orders)
    await leave_shared_sync(key, late)
    assert shared_sync(key, "revocations.sync", 3600.0, time.time) is not sync, "the last one out ended it"
    await leave_shared_sync(key, RevocationList())
