"""Support's HTTP routes under ``/api/support``: conversations, their history, read marks, and
the WebSocket (``/ws``, in :mod:`.socket`).

Every route needs a signed-in caller. A conversation is visible to its customer and to agents
(roles support and admin); to anybody else it does not exist (404). A message is stored, then
(after the commit) pushed to the sockets subscribed to its conversation and to the agents' inbox.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from agora.platform.db import Session, after_commit
from agora.platform.http.deps import Cursors
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import Unprocessable, require_json
from agora.platform.http.responses import json_response, page_response
from agora.services.support import schemas
from agora.services.support.auth import CurrentSubject
from agora.services.support.runtime import Runtime
from agora.services.support.service import SupportService, conversation_document, for_viewer, side_of
from agora.services.support.socket import router as socket_router

PREFIX = "/api/support"

ConversationId = Annotated[str, Path(min_length=1, max_length=36, description="The conversation's id (a UUID).")]
StatusFilter = Annotated[Literal["open", "closed"] | None, Query(description="Only open or only closed ones.")]


async def _service(runtime: Runtime, session: Session, caller: CurrentSubject) -> SupportService:
    return SupportService(session, events=runtime.outbox, viewer=caller)


Service = Annotated[SupportService, Depends(_service)]


def checked_body(body: str, max_length: int) -> str | None:
    """None when the (validated, stripped) body fits; else why not."""
    if len(body) > max_length:
        return f"A message has at most {max_length} characters."
    return None


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
    runtime: Runtime, service: Service, caller: CurrentSubject, body: schemas.ConversationIn | None = None
) -> Response:
    conversation, created = await service.open(body.subject if body is not None else None)
    raw = conversation_document(conversation)
    if created:
        after_commit(service.session, lambda: runtime.pushes.opened(raw))
    document = for_viewer(raw, caller)
    headers = {"Location": f"{PREFIX}/conversations/{conversation.id}"}
    return json_response(document, status_code=201 if created else 200, headers=headers)


@rest.get(
    "/conversations",
    response_model=None,
    responses={200: {"model": schemas.ConversationPage}, 400: {}, 401: {}, 422: {}},
    summary="Conversations, newest activity first (a customer's own; agents: all, with unread counts)",
)
async def list_conversations(
    service: Service,
    cursors: Cursors,
    status: StatusFilter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    page = await service.page(status=status, limit=limit, cursor=cursor, cursors=cursors)
    return page_response(page)


@rest.get(
    "/conversations/{conversation_id}",
    response_model=None,
    responses={200: {"model": schemas.Conversation}, 401: {}, 404: {}, 422: {}},
    summary="One conversation (another customer's is a 404)",
)
async def get_conversation(service: Service, caller: CurrentSubject, conversation_id: ConversationId) -> Response:
    conversation = await service.conversation(conversation_id)
    return json_response(for_viewer(conversation_document(conversation), caller))


@rest.get(
    "/conversations/{conversation_id}/messages",
    response_model=None,
    responses={200: {"model": schemas.MessagePage}, 400: {}, 401: {}, 404: {}, 422: {}},
    summary="The conversation's history, oldest first (next_cursor continues after the last one)",
)
async def list_messages(
    service: Service,
    cursors: Cursors,
    conversation_id: ConversationId,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    page = await service.messages(conversation_id, limit=limit, cursor=cursor, cursors=cursors)
    return page_response(page)


@rest.post(
    "/conversations/{conversation_id}/messages",
    response_model=None,
    status_code=201,
    responses={201: {"model": schemas.Message}, 401: {}, 404: {}, 409: {}, 422: {}, 429: {}},
    summary="Send a message (1-2000 characters; rate limited per user)",
)
async def post_message(
    runtime: Runtime,
    service: Service,
    caller: CurrentSubject,
    conversation_id: ConversationId,
    body: schemas.MessageIn,
) -> Response:
    problem = checked_body(body.body, runtime.settings.message_max_length)
    if problem is not None:
        raise Unprocessable(problem, field="body.body")
    await runtime.rate_limit.hit(caller.id)
    posted = await service.post(conversation_id, body.body)
    after_commit(service.session, lambda: runtime.pushes.posted(posted))
    return json_response({**posted.message, "conversation": for_viewer(posted.conversation, caller)}, status_code=201)


@rest.post(
    "/conversations/{conversation_id}/read",
    response_model=None,
    responses={200: {"model": schemas.Conversation}, 401: {}, 404: {}, 422: {}},
    summary="Mark the conversation read for the caller's side (the customer, or the agents)",
)
async def read(runtime: Runtime, service: Service, caller: CurrentSubject, conversation_id: ConversationId) -> Response:
    document = await service.read(conversation_id)
    side = side_of(caller)
    after_commit(service.session, lambda: runtime.pushes.read(document, side))
    return json_response(for_viewer(document, caller))


@rest.post(
    "/conversations/{conversation_id}/close",
    response_model=None,
    responses={200: {"model": schemas.Conversation}, 401: {}, 404: {}, 422: {}},
    summary="Close the conversation (the customer's next open starts a new one)",
)
async def close(
    runtime: Runtime, service: Service, caller: CurrentSubject, conversation_id: ConversationId
) -> Response:
    document = await service.close(conversation_id)
    after_commit(service.session, lambda: runtime.pushes.closed(document))
    return json_response(for_viewer(document, caller))


router.include_router(rest)
router.include_router(socket_router)
