"""Notifications' HTTP routes under ``/api/notifications``: the caller's list, read marks, the live stream.

``GET /stream`` is Server-Sent Events: first ``event: ready`` (the subscription is in place:
anything stored from now on is pushed), then one ``event: notification`` per new notification
(``data`` is the notification as the list shows it), and a comment line every
``stream_heartbeat_seconds`` so proxies keep the connection open. One stream per open browser
session; the list remains the record (a stream that was closed misses nothing the list lacks).
A stream whose session ends (logout, the user disabled) is closed by its next heartbeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from agora.contracts.notifications import SSE_NOTIFICATION, SSE_READY
from agora.platform.connections import Slot, TooManyConnections
from agora.platform.db import Session, after_commit
from agora.platform.http.deps import Context, Cursors
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import ProblemError
from agora.platform.http.responses import json_response
from agora.services.notifications import metrics, schemas
from agora.services.notifications.auth import CurrentSubject
from agora.services.notifications.runtime import NotificationsRuntime, Runtime
from agora.services.notifications.service import NotificationsService

PREFIX = "/api/notifications"

NotificationId = Annotated[str, Path(min_length=1, max_length=36, description="The notification's id (a UUID).")]


class _HeldStream(StreamingResponse):
    """A stream that gives its connection slot back when it ends, however it ends (the client
    went away, the service stops, the generator never started)."""

    def __init__(self, slot: Slot, content: AsyncIterator[bytes], **options: Any) -> None:
        super().__init__(content, **options)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


async def _forget_page(runtime: NotificationsRuntime, session: AsyncSession, user_id: str) -> None:
    """Drops the user's cached first page now and again once the change committed (a reader in
    between could have cached the state before the change)."""
    await runtime.cache.invalidate(user_id)
    after_commit(session, lambda: runtime.spawn(runtime.cache.invalidate(user_id)))


def sse(event: str, data: Any, *, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


router = APIRouter(prefix=PREFIX, tags=["notifications"])


@router.get(
    "",
    response_model=None,
    responses={200: {"model": schemas.NotificationPage}, 400: {}, 401: {}, 422: {}},
    summary="The caller's notifications, newest first, with the unread count",
)
async def list_notifications(
    runtime: Runtime,
    session: Session,
    cursors: Cursors,
    caller: CurrentSubject,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    page = await NotificationsService(session).page(
        caller.id,
        limit=limit,
        cursor=cursor,
        cursors=cursors,
        cache=runtime.cache,
        recent_size=runtime.settings.recent_size,
    )
    return json_response({"items": page.items, "next_cursor": page.next_cursor, "unread_count": page.unread_count})


@router.post(
    "/read-all",
    response_model=None,
    responses={200: {"model": schemas.ReadAllOut}, 401: {}},
    summary="Mark every notification of the caller read",
)
async def read_all(runtime: Runtime, session: Session, caller: CurrentSubject) -> Response:
    updated = await NotificationsService(session).mark_all_read(caller.id)
    await _forget_page(runtime, session, caller.id)
    return json_response({"updated": updated, "unread_count": 0})


@router.post(
    "/{notification_id}/read",
    response_model=None,
    responses={200: {"model": schemas.Notification}, 401: {}, 404: {}, 422: {}},
    summary="Mark one of the caller's notifications read (another user's is a 404)",
)
async def read_one(
    runtime: Runtime, session: Session, caller: CurrentSubject, notification_id: NotificationId
) -> Response:
    document = await NotificationsService(session).mark_read(caller.id, notification_id)
    await _forget_page(runtime, session, caller.id)
    return json_response(document)


@router.get(
    "/stream",
    response_model=None,
    responses={200: {"content": {"text/event-stream": {}}}, 401: {}, 429: {}},
    summary="New notifications of the caller as Server-Sent Events (bearer token or session cookie)",
)
async def stream(runtime: Runtime, context: Context, caller: CurrentSubject) -> Response:
    heartbeat = runtime.settings.stream_heartbeat_seconds
    revocations = context.token_verifier.revocations
    try:
        slot = runtime.streams.acquire(caller.id)
    except TooManyConnections as exc:
        metrics.streams_refused_total.labels(exc.scope).inc()
        wait = runtime.settings.stream_retry_after_seconds
        raise ProblemError(
            f"Too many open notification streams ({exc}); close one or try again later.",
            status=429,
            extra={"limit": "streams_per_user" if exc.scope == "user" else "streams", "retry_after": wait},
            headers={"Retry-After": str(wait), "Cache-Control": "no-store"},
        ) from None

    async def events() -> AsyncIterator[bytes]:
        async with runtime.hub.subscribe(caller.id) as queue:
            yield b"retry: 3000\n" + sse(SSE_READY, {"user_id": caller.id})
            # a logout or a disabled account ends the stream by the next heartbeat
            while not revocations.refuses(caller.claims):
                try:
                    document = await asyncio.wait_for(queue.get(), heartbeat)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if document is None or revocations.refuses(caller.claims):  # shutting down, or logged out
                    return
                yield sse(SSE_NOTIFICATION, document, event_id=document["id"])

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return _HeldStream(slot, events(), media_type="text/event-stream", headers=headers)
