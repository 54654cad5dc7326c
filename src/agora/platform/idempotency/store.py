"""The idempotency key store: begin, complete, abandon, purge.

Semantics follow draft-ietf-httpapi-idempotency-key-header: the first request with a key runs;
a retry with the same key and the same payload gets the stored answer; the same key while the
first is still running is a conflict (409); the same key with another payload is a misuse (422).
Keys are scoped (to the caller) and kept for ``ttl``.

The *processing* row is committed on its own before the effect runs, so a concurrent duplicate
sees it at once (the database's primary key decides the race, on every dialect). It carries a
lock deadline: a process that died mid-request leaves a row another request may take over once
the lock has lapsed, instead of a key that is stuck forever.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db import unit_of_work
from agora.platform.db.types import utcnow
from agora.platform.errors import ConflictError, UnprocessableError
from agora.platform.idempotency.tables import idempotency_keys

PROCESSING = "processing"
COMPLETED = "completed"
HEADER = "Idempotency-Key"


class KeyInFlight(ConflictError):
    """The first request with this key has not finished yet."""

    field = HEADER

    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key is still being processed; retry shortly.")


class KeyReused(UnprocessableError):
    """The key was used before for a different request."""

    field = HEADER

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used for a different request; use a new key.")


@dataclass(frozen=True)
class Begun:
    """This request owns the key: run the effect, then ``complete`` (or ``abandon``)."""

    scope: str
    key: str


@dataclass(frozen=True)
class Replay:
    """The key's stored answer."""

    status_code: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def fingerprint(payload: Any, secret: bytes = b"") -> str:
    """A keyed hash of the request's canonical JSON (keys sorted), so formatting does not matter.

    Keyed (HMAC) because a payload may hold a card number: a bare hash of it would be a guessable
    stand-in for the number itself.
    """
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hmac.new(secret or b"agora-idempotency", canonical, hashlib.sha256).hexdigest()


class IdempotencyStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: timedelta = timedelta(hours=24),
        lock_timeout: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self.ttl = ttl
        self.lock_timeout = lock_timeout
        self._clock = clock

    async def begin(self, scope: str, key: str, fingerprint: str) -> Begun | Replay:
        """Claims the key, or answers with what is stored; raises KeyInFlight / KeyReused."""
        for _ in range(3):  # a row deleted (expired, abandoned) between our insert and read: try again
            now = self._clock()
            if await self._insert(scope, key, fingerprint, now):
                return Begun(scope, key)
            async with unit_of_work(self._sessions) as session:
                row = (
                    await session.execute(
                        select(idempotency_keys).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
                    )
                ).one_or_none()
                if row is None:
                    continue
                if row.expires_at <= now:
                    await session.execute(
                        delete(idempotency_keys).where(
                            idempotency_keys.c.scope == scope,
                            idempotency_keys.c.key == key,
                            idempotency_keys.c.expires_at <= now,
                        )
                    )
                    await session.commit()
                    continue
                if not hmac.compare_digest(row.fingerprint, fingerprint):
                    raise KeyReused()
                if row.state == COMPLETED:
                    return _replay(row)
                if row.locked_until > now:
                    raise KeyInFlight()
                # the owner died mid-request: take the key over (one taker wins the conditional update)
                taken = await session.execute(
                    update(idempotency_keys)
                    .where(
                        idempotency_keys.c.scope == scope,
                        idempotency_keys.c.key == key,
                        idempotency_keys.c.state == PROCESSING,
                        idempotency_keys.c.locked_until == row.locked_until,
                    )
                    .values(locked_until=now + self.lock_timeout)
                )
                await session.commit()
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return Begun(scope, key)
                raise KeyInFlight()
        raise KeyInFlight()

    async def answer(self, scope: str, key: str) -> Replay | None:
        """The key's stored answer, if it has one: what the first request sends, so that it is
        byte for byte what every replay will be."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.scope == scope,
                        idempotency_keys.c.key == key,
                        idempotency_keys.c.state == COMPLETED,
                    )
                )
            ).one_or_none()
        return None if row is None else _replay(row)

    async def _insert(self, scope: str, key: str, fingerprint: str, now: datetime) -> bool:
        async with unit_of_work(self._sessions) as session:
            try:
                await session.execute(
                    insert(idempotency_keys).values(
                        scope=scope,
                        key=key,
                        fingerprint=fingerprint,
                        state=PROCESSING,
                        created_at=now,
                        locked_until=now + self.lock_timeout,
                        expires_at=now + self.ttl,
                    )
                )
                await session.commit()
            except IntegrityError:
                return False
        return True

    async def complete(
        self,
        session: AsyncSession,
        scope: str,
        key: str,
        *,
        status_code: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Stores the answer in ``session``: commit it with the effect it describes."""
        await session.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
            .values(
                state=COMPLETED,
                status_code=status_code,
                content_type=content_type,
                response_body=body.decode("utf-8"),
                response_headers=orjson.dumps(headers).decode() if headers else None,
            )
        )

    async def complete_with(self, session: AsyncSession, scope: str, key: str, answer: Replay) -> None:
        """:meth:`complete` with an answer rendered beforehand (the one the first request is sent)."""
        await self.complete(
            session,
            scope,
            key,
            status_code=answer.status_code,
            body=answer.body,
            content_type=answer.content_type,
            headers=answer.headers,
        )

    async def abandon(self, scope: str, key: str) -> None:
        """Forget a key whose request failed without an answer worth keeping (a retry runs again)."""
        async with unit_of_work(self._sessions) as session:
            await session.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.scope == scope,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.state == PROCESSING,
                )
            )
            await session.commit()

    async def purge(self, *, batch: int = 1000) -> int:
        """Deletes expired keys (at most ``batch``); returns how many."""
        now = self._clock()
        async with unit_of_work(self._sessions) as session:
            ids = (
                await session.execute(
                    select(idempotency_keys.c.scope, idempotency_keys.c.key)
                    .where(idempotency_keys.c.expires_at <= now)
                    .limit(batch)
                )
            ).all()
            for scope, key in ids:
                await session.execute(
                    delete(idempotency_keys).where(
                        idempotency_keys.c.scope == scope,
                        idempotency_keys.c.key == key,
                        idempotency_keys.c.expires_at <= now,
                    )
                )
            await session.commit()
        return len(ids)


def _replay(row: Any) -> Replay:
    return Replay(
        status_code=row.status_code,
        body=row.response_body.encode("utf-8"),
        content_type=row.content_type or "application/json",
        headers=orjson.loads(row.response_headers) if row.response_headers else {},
    )


__all__ = ["HEADER", "Begun", "IdempotencyStore", "KeyInFlight", "KeyReused", "Replay", "fingerprint"]
