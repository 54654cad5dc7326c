"""Identity's composition root: ``start`` builds its runtime once, at start-up, and closes it.

What identity keeps beyond the chassis's context: the password hasher with its worker pool
(argon2 off the event loop, closed at shutdown), the verifier of the tokens it mints itself (fed
from its own database, see :mod:`.auth`), the login throttle (its storage opened on first use,
see :class:`~.throttle.LoginThrottle`) and the token lifetimes, all typed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.auth import TokenVerifier
from agora.platform.http.deps import runtime_of
from agora.platform.messaging import Outbox
from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings
from agora.platform.workers import WorkerPool
from agora.services.identity.keys import jwks
from agora.services.identity.passwords import Passwords, default_hash_threads
from agora.services.identity.service import IdentityService, TokenConfig
from agora.services.identity.settings import IdentitySettings
from agora.services.identity.throttle import LoginThrottle, build_throttle


@dataclass(frozen=True)
class IdentityRuntime:
    settings: IdentitySettings
    platform: PlatformSettings
    outbox: Outbox
    passwords: Passwords
    """argon2id on a :class:`WorkerPool` of its own (its threads start with the first hash)."""
    verifier: TokenVerifier
    """Verifies the access tokens identity minted, from its own keys (not ``AGORA_JWKS_URL``)."""
    throttle: LoginThrottle
    """Failed logins and reset requests; its storage (redis-py with Redis) opens on first use."""
    tokens: TokenConfig

    def service(self, session: AsyncSession) -> IdentityService:
        return IdentityService(
            session,
            events=self.outbox,
            passwords=self.passwords,
            tokens=self.tokens,
            # the chassis verifier's list, which ours shares: a logout is refused from its commit on
            revocations=self.verifier.revocations,
        )


def build_passwords(settings: IdentitySettings) -> Passwords:
    threads = settings.password_hash_threads or default_hash_threads()
    pool = WorkerPool(
        threads=threads,
        budget=threads,
        queue=settings.password_hash_queue,
        wait_seconds=settings.password_hash_wait_seconds,
        name="identity-hash",
        large_blocks=True,  # each hash mallocs its argon2 memory (19 MiB) and frees it
    )
    return Passwords(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
        pool=pool,
    )


def build_verifier(context: ServiceContext, settings: IdentitySettings) -> TokenVerifier:
    """Identity verifies its own tokens from its own table of keys, sharing the chassis
    verifier's revocation list (which identity fills from its database and its events)."""

    async def fetch() -> dict[str, Any]:
        async with context.read_sessions() as session:
            return await jwks(session, access_token_ttl_seconds=settings.access_token_ttl_seconds)

    # An unknown kid is looked up again in our own database every time (no rate limit): it is
    # one indexed query, and right after a rotation (by another replica, or the CLI) a freshly
    # minted token must not be refused while a fetch interval runs out.
    platform = context.platform
    return TokenVerifier(
        fetch,
        issuer=platform.jwt_issuer,
        audience=platform.jwt_audience,
        leeway_seconds=platform.jwt_leeway_seconds,
        min_refresh_interval=0.0,
        revocations=context.token_verifier.revocations,
    )


def token_config(settings: IdentitySettings, platform: PlatformSettings) -> TokenConfig:
    return TokenConfig(
        issuer=platform.jwt_issuer,
        audience=platform.jwt_audience,
        access_ttl_seconds=settings.access_token_ttl_seconds,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        leeway_seconds=platform.jwt_leeway_seconds,
    )


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[IdentityRuntime]:
    settings = context.settings_as(IdentitySettings)
    passwords = build_passwords(settings)
    try:
        yield IdentityRuntime(
            settings=settings,
            platform=context.platform,
            outbox=context.outbox,
            passwords=passwords,
            verifier=build_verifier(context, settings),
            throttle=build_throttle(settings, context.platform),
            tokens=token_config(settings, context.platform),
        )
    finally:
        await passwords.close()  # its hash threads


Runtime = Annotated[IdentityRuntime, Depends(runtime_of(IdentityRuntime))]
"""Identity's runtime, for its endpoints and guards."""
