"""Support's HTTP routes under ``/api/support``: conversations, their history, read marks, and
the WebSocket (``/ws``, in :mod:`.socket`).

Every route needs a signed-in caller. A conversation is visible to its customer and to agents
(roles support and admin); to anybody else it does not exist (404). A message is stored, then
(after the commit) pushed to the sockets subscribed to its conversation and to the agents' inbox.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from agora.platform.db import Session, after_commit
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import Unprocessable, require_json
from agora.services.support import schemas
from agora.services.support.auth import CurrentSubject
from agora.services.support.service import SupportService, conversation_document, for_viewer, side_of
from agora.services.support.socket import add_socket_route
from agora.services.support.wiring import Runtime, runtime_of

PREFIX = "/api/support"

ConversationId = Annotated[str, Path(min_length=1, max_length=36, description="The conversation's id (a UUID).")]
StatusFilter = Annotated[Literal["open", "closed"] | None, Query(description="Only open or only closed ones.")]


def _json(payload: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json", headers=headers)


def _runtime(request: Request) -> Runtime:
    return runtime_of(request.state.context)


def _service(request: Request, session: Any, caller: Any) -> SupportService:
    return SupportService(session, events=request.state.outbox, viewer=caller)


def checked_body(body: str, max_length: int) -> str | None:
    """None when the (validated, stripped) body fits; else why not."""
    if len(body) > max_length:
        return f"A message has at most {max_length} characters."
    return None


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["support"])
    rest = APIRouter(dependencies=[Depends(require_json)])  # the WebSocket route takes no JSON body

    @rest.post(
        "/conversations",
        response_model=None,
        status_code=201,
        responses={200: {"model": schemas.Conversation}, 201: {"model": schemas.Conversation}, 401: {}, 403: {}},
        summary="Open a support conversation (the caller's open one is returned with 200 if it exists)",
    )
    async def open_conversation(
        request: Request, session: Session, caller: CurrentSubject, body: schemas.ConversationIn | None = None
    ) -> Response:
        service = _service(request, session, caller)
        conversation, created = await service.open(body.subject if body is not None else None)
        raw = conversation_document(conversation)
        if created:
            runtime = _runtime(request)
            after_commit(session, lambda: runtime.opened(raw))
        document = for_viewer(raw, caller)
        headers = {"Location": f"{PREFIX}/conversations/{conversation.id}"}
        return _json(document, status_code=201 if created else 200, headers=headers)

    @rest.get(
        "/conversations",
        response_model=None,
        responses={200: {"model": schemas.ConversationPage}, 400: {}, 401: {}, 422: {}},
        summary="Conversations, newest activity first (a customer's own; agents: all, with unread counts)",
    )
    async def list_conversations(
        request: Request,
        session: Session,
        caller: CurrentSubject,
        status: StatusFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Response:
        page = await _service(request, session, caller).page(
            status=status, limit=limit, cursor=cursor, codec=request.state.cursor_codec
        )
        return _json({"items": page.items, "next_cursor": page.next_cursor})

    @rest.get(
        "/conversations/{conversation_id}",
        response_model=None,
        responses={200: {"model": schemas.Conversation}, 401: {}, 404: {}, 422: {}},
        summary="One conversation (another customer's is a 404)",
    )
    async def get_conversation(
        request: Request, session: Session, caller: CurrentSubject, conversation_id: ConversationId
    ) -> Response:
        conversation = await _service(request, session, caller).conversation(conversation_id)
        return _json(for_viewer(conversation_document(conversation), caller))

    @rest.get(
        "/conversations/{conversation_id}/messages",
        response_model=None,
        responses={200: {"model": schemas.MessagePage}, 400: {}, 401: {}, 404: {}, 422: {}},
        summary="The conversation's history, oldest first (next_cursor continues after the last one)",
    )
    async def list_messages(
        request: Request,
        session: Session,
        caller: CurrentSubject,
        conversation_id: ConversationId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response:
        page = await _service(request, session, caller).messages(
            conversation_id, limit=limit, cursor=cursor, codec=request.state.cursor_codec
        )
        return _json({"items": page.items, "next_cursor": page.next_cursor})

    @rest.post(
        "/conversations/{conversation_id}/messages",
        response_model=None,
        status_code=201,
        responses={201: {"model": schemas.Message}, 401: {}, 404: {}, 409: {}, 422: {}, 429: {}},
        summary="Send a message (1-2000 characters; rate limited per user)",
    )
    async def post_message(
        request: Request,
        session: Session,
        caller: CurrentSubject,
        conversation_id: ConversationId,
        body: schemas.MessageIn,
    ) -> Response:
        runtime = _runtime(request)
        problem = checked_body(body.body, runtime.settings.message_max_length)
        if problem is not None:
            raise Unprocessable(problem, field="body.body")
        await runtime.rate_limit.hit(caller.id)
        posted = await _service(request, session, caller).post(conversation_id, body.body)
        after_commit(session, lambda: runtime.posted(posted))
        return _json({**posted.message, "conversation": for_viewer(posted.conversation, caller)}, status_code=201)

    @rest.post(
        "/conversations/{conversation_id}/read",
        response_model=None,
        responses={200: {"model": schemas.Conversation}, 401: {}, 404: {}, 422: {}},
        summary="Mark the conversation read for the caller's side (the customer, or the agents)",
    )
    async def read(
        request: Request, session: Session, caller: CurrentSubject, conversation_id: ConversationId
    ) -> Response:
        runtime = _runtime(request)
        document = await _service(request, session, caller).read(conversation_id)
        side = side_of(caller)
        after_commit(session, lambda: runtime.read(document, side))
        return _json(for_viewer(document, caller))

    @rest.post(
        "/conversations/{conversation_id}/close",
        response_model=None,
        responses={200: {"model": schemas.Conversation}, 401: {}, 404: {}, 422: {}},
        summary="Close the conversation (the customer's next open starts a new one)",
    )
    async def close(
        request: Request, session: Session, caller: CurrentSubject, conversation_id: ConversationId
    ) -> Response:
        runtime = _runtime(request)
        document = await _service(request, session, caller).close(conversation_id)
        after_commit(session, lambda: runtime.closed(document))
        return _json(for_viewer(document, caller))

    router.include_router(rest)
    add_socket_route(router)
    return router
