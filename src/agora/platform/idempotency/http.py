"""``Idempotency-Key`` for endpoints: the header dependency and :func:`idempotent`.

An endpoint that moves money or creates orders wraps its effect::

    @router.post("/charges")
    async def charge(request: Request, body: ChargeIn, caller: ServiceCaller, key: IdempotencyKey) -> Response:
        return await idempotent(request, scope=caller.id, key=key, payload=body, run=lambda s: svc(s).charge(body))

``run`` gets its own session and returns an :class:`IdempotentResult`; the stored answer commits
with the effect. A refusal (a ``ServiceError`` or ``ProblemError`` below 500) is an answer too:
its effect is rolled back, the problem is stored and replayed. A 5xx or any other exception keeps
nothing, so the client's retry runs again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from agora.platform.db import unit_of_work
from agora.platform.db.session import committed
from agora.platform.errors import ServiceError
from agora.platform.http.problems import (
    PARAMETER_REQUIRED,
    PROBLEM_JSON,
    BadRequest,
    ProblemError,
    declares,
    error_document,
)
from agora.platform.idempotency.store import HEADER, Begun, IdempotencyStore, Replay, fingerprint
from agora.platform.idempotency.tables import KEY
from agora.platform.service import ServiceContext, context_of
from agora.platform.tasks import PeriodicTask

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass
class IdempotentResult:
    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@declares(400)
async def _idempotency_key(
    value: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="A unique key per operation (e.g. a UUID); a retry sends the same key.",
            # optional to FastAPI so that a missing key is the draft's 400, required in the document
            json_schema_extra={PARAMETER_REQUIRED: True, "pattern": rf"^[\x21-\x7e]{{1,{KEY}}}$"},
        ),
    ] = None,
) -> str:
    return check_key(value)


def check_key(value: str | None) -> str:
    """The key an ``Idempotency-Key`` value names (a 400 naming the header when it is none)."""
    if value is None or not value.strip():
        raise BadRequest(f"This operation needs an {HEADER} header.", field=HEADER)
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':  # the draft's sf-string form
        key = key[1:-1]
    if not key or len(key) > KEY or not all(0x21 <= ord(char) <= 0x7E for char in key):
        raise BadRequest(f"{HEADER} must be 1 to {KEY} visible ASCII characters.", field=HEADER)
    return key


IdempotencyKey = Annotated[str, Depends(_idempotency_key)]


#: Keys live 24 hours; purging hourly keeps the table at about a day of requests.
PURGE_INTERVAL_SECONDS = 3600.0


def context_store(context: ServiceContext) -> IdempotencyStore:
    """The service's store, built by the chassis with its context (endpoints and the purge share it)."""
    return context.idempotency


def store_for(request: Request) -> IdempotencyStore:
    return context_of(request).idempotency


def purge_task(context: ServiceContext) -> PeriodicTask:
    """The periodic task that forgets expired keys; list it in the service's ``periodic`` hook."""
    return PeriodicTask(f"{context.name}.idempotency_purge", PURGE_INTERVAL_SECONDS, context_store(context).purge)


def replay_response(replay: Replay, *, replayed: bool = True) -> Response:
    """The stored answer; ``replayed=False`` for the first request's own (the same bytes, headers
    and status, without ``Idempotent-Replayed``)."""
    headers = {**replay.headers, REPLAYED_HEADER: "true"} if replayed else replay.headers
    return Response(replay.body, status_code=replay.status_code, media_type=replay.content_type, headers=headers)


async def idempotent(
    request: Request,
    *,
    scope: str,
    key: str,
    payload: Any,
    run: Callable[[AsyncSession], Awaitable[IdempotentResult]],
) -> Response:
    answer, replayed = await answer_once(
        context_of(request), scope=scope, key=key, payload=payload, run=run, instance=request.url.path
    )
    return replay_response(answer, replayed=replayed)


async def answer_once(
    context: ServiceContext,
    *,
    scope: str,
    key: str,
    payload: Any,
    run: Callable[[AsyncSession], Awaitable[IdempotentResult]],
    instance: str,
) -> tuple[Replay, bool]:
    """The answer for ``key`` in ``scope`` and whether it is a replay: ``run``'s (stored with its
    effect, unless a 5xx), or what the key's first request answered. HTTP routes (:func:`idempotent`)
    and direct calls between services (:mod:`agora.platform.peers`) share the stored answers."""
    store = context.idempotency
    secret = context.platform.secret_key.get_secret_value().encode()
    outcome = await store.begin(scope, key, fingerprint(payload, secret))
    if isinstance(outcome, Replay):
        return outcome, True
    return await _run_owned(context, store, outcome, run, instance), False


async def _run_owned(
    context: ServiceContext,
    store: IdempotencyStore,
    begun: Begun,
    run: Callable[[AsyncSession], Awaitable[IdempotentResult]],
    instance: str,
) -> Replay:
    completed = False
    try:
        async with unit_of_work(context.sessions) as session:
            try:
                result = await run(session)
                content_type = "application/json" if result.status_code < 400 else PROBLEM_JSON
                status, body, headers = result.status_code, orjson.dumps(result.body), result.headers
            except (ServiceError, ProblemError) as exc:
                if exc.status >= 500:
                    raise
                await session.rollback()  # the refusal is the answer; its partial effect is not
                status, document, headers = error_document(exc, instance)
                body, content_type = orjson.dumps(document), PROBLEM_JSON
            if status >= 500:
                return Replay(status, body, content_type, headers)
            await store.complete(
                session,
                begun.scope,
                begun.key,
                status_code=status,
                body=body,
                content_type=content_type,
                headers=headers,
            )
            await session.commit()
            completed = True
            committed(context, session)
        return Replay(status, body, content_type, headers)
    finally:
        if not completed:
            await store.abandon(begun.scope, begun.key)


__all__ = [
    "PURGE_INTERVAL_SECONDS",
    "REPLAYED_HEADER",
    "IdempotencyKey",
    "IdempotentResult",
    "answer_once",
    "check_key",
    "context_store",
    "idempotent",
    "purge_task",
    "replay_response",
    "store_for",
]
