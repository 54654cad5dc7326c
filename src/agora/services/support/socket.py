"""The chat's WebSocket, ``/api/support/ws`` (protocol: ``docs/support.md``).

Handshake, in this order:

1. **Origin.** Browsers attach their session cookie to a WebSocket handshake from any page but
   let no page set headers on it, so the CSRF header cannot protect it. A handshake whose
   ``Origin`` is present and is neither this host (the ``Host`` header, default ports ignored)
   nor one of ``AGORA_SUPPORT_SOCKET_ALLOWED_ORIGINS`` is rejected before it is accepted (HTTP
   403). Non-browser clients send no ``Origin``.
2. **Credentials.** ``Authorization: Bearer``, else the ``agora_access`` cookie, else (for
   clients that cannot set headers) the ``access_token`` query parameter; verified like every
   route. Missing or invalid: the socket is accepted and closed at once with code 4401 (so a page
   can tell "sign in again" from a network error); a token of neither a customer nor an agent:
   4403. When the token expires the socket is closed with 4401 too: reconnect with a fresh one.
3. **Caps.** A user past ``AGORA_SUPPORT_SOCKET_MAX_PER_USER`` open sockets, or a process past
   ``AGORA_SUPPORT_SOCKET_MAX_TOTAL``: accepted and closed at once with 1013 (RFC 6455 "Try Again
   Later"), a code a page can read (a refused handshake shows a browser no status at all).

Then JSON text frames both ways. A bad frame is answered with an ``error`` frame naming the field
and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import structlog
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from agora.contracts import support as protocol
from agora.platform.auth import InvalidToken, Subject
from agora.platform.auth.cookies import ACCESS_COOKIE
from agora.platform.connections import TooManyConnections
from agora.platform.db import unit_of_work
from agora.platform.errors import ServiceError
from agora.platform.http.deps import Context
from agora.platform.http.problems import ProblemError
from agora.platform.ratelimit import RateLimited
from agora.platform.service import ServiceContext
from agora.services.support.auth import CUSTOMER_ROLE, is_agent
from agora.services.support.metrics import open_websockets, sockets_refused_total
from agora.services.support.runtime import Runtime, SupportRuntime, conversation_topic
from agora.services.support.schemas import MessageIn
from agora.services.support.service import SupportService, conversation_document, for_viewer, side_of

log = structlog.get_logger(__name__)

ID_LENGTH = 36
_DEFAULT_PORTS = {"http": "80", "ws": "80", "https": "443", "wss": "443"}


def _authority(scheme: str, netloc: str) -> str:
    host, _, port = netloc.lower().rpartition(":") if netloc.count(":") == 1 else (netloc.lower(), "", "")
    if port and port != _DEFAULT_PORTS.get(scheme, ""):
        return f"{host}:{port}"
    return host


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """No ``Origin`` (not a browser), the socket's own host, or an explicitly allowed origin."""
    if origin is None:
        return True
    if origin.rstrip("/").lower() in (item.rstrip("/").lower() for item in allowed):
        return True
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc or host is None:
        return False
    # the page's scheme decides the default port: behind a TLS-terminating proxy the socket
    # itself sees ws:// while the page is https://
    return _authority(parts.scheme, parts.netloc) == _authority(parts.scheme, host)


def token_of(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return websocket.cookies.get(ACCESS_COOKIE) or websocket.query_params.get("access_token") or None


class InvalidFrameError(ServiceError):
    status = 422


class FrameForbiddenError(ServiceError):
    status = 403


def error_frame(field: str | None, detail: str, *, ref: Any = None, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": protocol.FRAME_ERROR, "field": field, "detail": detail, **extra}
    if ref is not None:
        frame["ref"] = ref
    return frame


class Connection:
    """One open socket: its caller, its subscriptions (one forwarding task each), one writer at a time."""

    def __init__(
        self, websocket: WebSocket, context: ServiceContext, runtime: SupportRuntime, subject: Subject
    ) -> None:
        self.websocket = websocket
        self.context = context
        self.runtime = runtime
        self.subject = subject
        self.agent = is_agent(subject)
        self.subscriptions: dict[str, asyncio.Task[None]] = {}
        self._sending = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._sending:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                await self.websocket.send_text(orjson.dumps(frame).decode())

    def session_ended(self) -> bool:
        """The caller logged out or was disabled since the socket opened (the verifier's list)."""
        return self.context.token_verifier.revocations.refuses(self.subject.claims)

    async def close(self, code: int, reason: str = "") -> None:
        async with self._sending:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(RuntimeError):
                    await self.websocket.close(code, reason)

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        handlers: dict[str, Callable[[dict[str, Any], Any], Awaitable[None]]] = {
            protocol.FRAME_SUBSCRIBE: self.subscribe,
            protocol.FRAME_UNSUBSCRIBE: self.unsubscribe,
            protocol.FRAME_MESSAGE: self.message,
            protocol.FRAME_READ: self.read,
            protocol.FRAME_PING: self.ping,
        }
        limit = self.runtime.settings.socket_max_frame_bytes
        while True:
            received = await self.websocket.receive()
            if received["type"] == "websocket.disconnect":
                return
            if self.session_ended():
                await self.close(protocol.CLOSE_UNAUTHENTICATED, "session ended")
                return
            text = received.get("text")
            if text is None:
                await self.send(error_frame(None, "Send JSON text frames."))
                continue
            if len(text) > limit:
                await self.send(error_frame(None, f"A frame has at most {limit} characters."))
                continue
            try:
                frame = orjson.loads(text)
            except orjson.JSONDecodeError:
                await self.send(error_frame(None, "The frame is not valid JSON."))
                continue
            if not isinstance(frame, dict):
                await self.send(error_frame(None, "A frame is a JSON object with a type."))
                continue
            ref = frame.get("ref") if isinstance(frame.get("ref"), str | int) else None
            kind = frame.get("type")
            handler = handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                await self.send(error_frame("type", f"type is one of {', '.join(sorted(handlers))}.", ref=ref))
                continue
            try:
                await handler(frame, ref)
            except ServiceError as exc:
                await self.send(error_frame(exc.field, exc.detail, ref=ref, status=exc.status))
            except ProblemError as exc:
                extra = {"retry_after": exc.retry_after} if isinstance(exc, RateLimited) else {}
                detail = exc.detail or exc.title or ""
                await self.send(error_frame(exc.field, detail, ref=ref, status=exc.status, **extra))
            except Exception:
                # a database hiccup must not end the chat: the client is told, the socket stays
                log.warning("support_socket_frame_failed", frame_type=frame.get("type"), exc_info=True)
                await self.send(error_frame(None, "That did not work; try again.", ref=ref, status=503))

    async def stop(self) -> None:
        for task in list(self.subscriptions.values()):
            task.cancel()
        for task in list(self.subscriptions.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.subscriptions.clear()

    # -- frames ----------------------------------------------------------------------------------

    def _conversation_id(self, frame: dict[str, Any]) -> str:
        value = frame.get("conversation_id")
        if not isinstance(value, str) or not 1 <= len(value) <= ID_LENGTH:
            detail = f"conversation_id is a conversation's id (1-{ID_LENGTH} characters)."
            raise InvalidFrameError(detail, field="conversation_id")
        return value

    def _service(self, session: Any) -> SupportService:
        return SupportService(session, events=self.runtime.outbox, viewer=self.subject)

    async def subscribe(self, frame: dict[str, Any], ref: Any) -> None:
        value = frame.get("conversation_id")
        if value == protocol.INBOX:
            if not self.agent:
                raise FrameForbiddenError("Only support agents see the inbox.", field="conversation_id")
            topic, document = protocol.INBOX, None
        else:
            conversation_id = self._conversation_id(frame)
            async with self.context.read_sessions() as session:
                conversation = await self._service(session).conversation(conversation_id)
                document = for_viewer(conversation_document(conversation), self.subject)
            topic = conversation_topic(conversation_id)
        if topic not in self.subscriptions:
            if len(self.subscriptions) >= self.runtime.settings.socket_max_subscriptions:
                raise InvalidFrameError("Too many subscriptions on one socket.", field="conversation_id")
            ready = asyncio.Event()
            task = asyncio.create_task(self._forward(topic, ready), name=f"support:socket:{topic}")
            self.subscriptions[topic] = task
            # answer only once the fan-out holds the subscription: nothing published after is missed
            waiter = asyncio.ensure_future(ready.wait())
            await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.is_set():
                waiter.cancel()
                self.subscriptions.pop(topic, None)
                task.result()  # raises why the subscription failed
        reply: dict[str, Any] = {"type": protocol.FRAME_SUBSCRIBED, "conversation_id": value}
        if document is not None:
            reply["conversation"] = document
        if ref is not None:
            reply["ref"] = ref
        await self.send(reply)

    async def _forward(self, topic: str, ready: asyncio.Event) -> None:
        async with self.runtime.fanout.subscribe(topic) as queue:
            ready.set()
            while True:
                frame = await queue.get()
                if frame is None:  # the service is shutting down
                    await self.close(1012, "service restarting")
                    return
                if self.session_ended():  # nothing more for a session that ended
                    await self.close(protocol.CLOSE_UNAUTHENTICATED, "session ended")
                    return
                await self.send(frame)

    async def unsubscribe(self, frame: dict[str, Any], ref: Any) -> None:
        value = frame.get("conversation_id")
        topic = protocol.INBOX if value == protocol.INBOX else conversation_topic(self._conversation_id(frame))
        task = self.subscriptions.pop(topic, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        reply: dict[str, Any] = {"type": protocol.FRAME_UNSUBSCRIBED, "conversation_id": value}
        if ref is not None:
            reply["ref"] = ref
        await self.send(reply)

    async def message(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = self._conversation_id(frame)
        try:
            body = MessageIn.model_validate({"body": frame.get("body")}).body
        except ValidationError as exc:
            raise InvalidFrameError(f"body: {exc.errors()[0]['msg']}.", field="body") from None
        limit = self.runtime.settings.message_max_length
        if len(body) > limit:
            raise InvalidFrameError(f"A message has at most {limit} characters.", field="body")
        await self.runtime.rate_limit.hit(self.subject.id)
        # committed (and the relay woken for its support.message.posted event) when the block ends
        async with unit_of_work(self.context) as session:
            posted = await self._service(session).post(conversation_id, body)
        self.runtime.pushes.posted(posted)
        reply = {
            "type": protocol.FRAME_SENT,
            "message": posted.message,
            "conversation": for_viewer(posted.conversation, self.subject),
        }
        if ref is not None:
            reply["ref"] = ref
        await self.send(reply)

    async def read(self, frame: dict[str, Any], ref: Any) -> None:
        conversation_id = self._conversation_id(frame)
        async with unit_of_work(self.context) as session:
            document = await self._service(session).read(conversation_id)
        side = side_of(self.subject)
        self.runtime.pushes.read(document, side)
        reply = {
            "type": protocol.FRAME_READ,
            "conversation_id": conversation_id,
            "side": side,
            "read_seq": document["message_count"],
            "conversation": for_viewer(document, self.subject),
        }
        if ref is not None:
            reply["ref"] = ref
        await self.send(reply)

    async def ping(self, frame: dict[str, Any], ref: Any) -> None:
        await self.send({"type": protocol.FRAME_PONG, "ref": ref} if ref is not None else {"type": protocol.FRAME_PONG})


async def _authenticate(websocket: WebSocket, context: ServiceContext) -> Subject | int:
    """The caller, or the close code that refuses them."""
    token = token_of(websocket)
    if token is None:
        return protocol.CLOSE_UNAUTHENTICATED
    try:
        subject = await context.token_verifier.verify(token)
    except InvalidToken as exc:
        log.info("token_rejected", reason=str(exc), source="websocket")
        return protocol.CLOSE_UNAUTHENTICATED
    if not (is_agent(subject) or subject.has_role(CUSTOMER_ROLE)):
        return protocol.CLOSE_FORBIDDEN
    return subject


router = APIRouter()


@router.websocket("/ws", name="support_socket")
async def support_socket(websocket: WebSocket, context: Context, runtime: Runtime) -> None:
    settings = runtime.settings
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, websocket.headers.get("host"), settings.socket_allowed_origins):
        log.warning("support_socket_origin_refused", origin=origin[:200] if origin else None)
        await websocket.close(protocol.CLOSE_FORBIDDEN)  # before accept: the handshake gets a 403
        return
    subject = await _authenticate(websocket, context)
    await websocket.accept()
    if isinstance(subject, int):
        await websocket.close(subject, "sign in again" if subject == protocol.CLOSE_UNAUTHENTICATED else "forbidden")
        return
    try:
        slot = runtime.sockets.acquire(subject.id)
    except TooManyConnections as exc:
        sockets_refused_total.labels(exc.scope).inc()
        await websocket.close(protocol.CLOSE_TRY_AGAIN_LATER, f"too many open sockets ({exc}); try again later")
        return
    connection = Connection(websocket, context, runtime, subject)
    open_websockets.inc()
    expires = subject.claims.get("exp")
    lifetime = float(expires) - time.time() if isinstance(expires, int | float) else None
    try:
        async with asyncio.timeout(lifetime):
            await connection.run()
    except TimeoutError:
        await connection.close(protocol.CLOSE_UNAUTHENTICATED, "session expired")
    except WebSocketDisconnect:
        pass
    finally:
        slot.release()
        open_websockets.dec()
        await connection.stop()
