"""Replicas of a service share the broker group of identity's revocation events, so one takes
each event; through Redis pub/sub it reaches the others at once, not at their next sync.

Two runtimes of the probe service play the replicas (one in-process broker, the real Redis), with
the periodic sync set far beyond the test's deadline so only the fan-out can make the second one
refuse the ended session.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agora.platform.auth.revocations import SESSION_REVOKED, TOPIC, SessionRevoked
from agora.platform.http.app import service_runtime
from agora.platform.messaging import Envelope, create_transport
from agora.platform.runtime import migrate_service
from agora.platform.testing.apps import platform_for_tests
from agora.platform.testing.waiting import eventually
from tests.support.probe import ProbeSettings, spec

pytestmark = pytest.mark.backend("redis")


async def test_a_revocation_reaches_every_replica_through_redis(tmp_path: Path, redis_url: str) -> None:
    platform = platform_for_tests(tmp_path, redis_url=redis_url, revocation_sync_seconds=300)
    settings = ProbeSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}")
    await migrate_service(spec, platform, settings)
    transport = create_transport("memory://")
    await transport.start()
    try:
        async with (
            service_runtime(spec, platform, settings, transport=transport) as first,
            service_runtime(spec, platform, settings, transport=transport) as second,
        ):
            sid = uuid.uuid4().hex
            now = datetime.now(UTC)
            ended = SessionRevoked(session_id=sid, user_id="u1", revoked_at=now, expires_at=now + timedelta(minutes=10))
            event = Envelope(type=SESSION_REVOKED, source="agora/identity", data=ended.model_dump(mode="json"))
            await transport.publish(TOPIC, event)
            claims = {"sub": "u1", "sid": sid, "iat": int(now.timestamp()) - 1}

            async def both_refuse() -> bool:
                return all(c.token_verifier.revocations.refuses(claims) for c in (first, second))

            await eventually(both_refuse, within=2.0, what="both replicas refusing the ended session")
    finally:
        await transport.close()
