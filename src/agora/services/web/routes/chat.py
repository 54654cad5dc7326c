"""The support chat's pages: the customer's ``/support`` and the agents' inbox ``/admin/support``.

Both pages are complete without JavaScript (history drawn on the server, a POST form to answer).
``static/js/chat.js`` then makes them live: it subscribes to the support service's WebSocket
(``/api/support/ws``), reads the history once more after each (re)subscription (what arrived
between drawing and subscribing, or while the connection was down), draws pushed messages and
sends over the socket (over REST when it is down). The chat launcher of every other page is
``templates/chat/widget.html``, included by the layout.

Who sees what is the support service's rule (a conversation is its customer's and the agents');
these routes only choose the page: anonymous visitors are sent to log in, customers get their own
chat, agents (roles support and admin) the inbox, and a customer at the inbox gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeGuard
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Form, HTTPException, Query
from starlette.responses import RedirectResponse, Response

from agora.services.web.backend import UNAVAILABLE, Backend, problem_detail
from agora.services.web.pages import ThisVisit, Visit
from agora.services.web.routes.admin import NAV
from agora.services.web.session import CSRF_FIELD, Visitor, login_redirect

router = APIRouter()

API = "/api/support"
#: The agreed ceiling of one message (the service checks its own setting too).
MESSAGE_MAX_LENGTH = 2000
#: Messages per history request (the API's page size ceiling) and how many pages a page draws.
HISTORY_PAGE = 100
HISTORY_PAGES = 10
INBOX_PAGE = 50
STATUSES = ("open", "closed", "all")
#: A conversation id is a UUID; anything longer cannot be one (and is a 404, not a 422).
ID_LENGTH = 36
UNAVAILABLE_TEXT = "The support chat is unavailable right now; try again in a moment."

Body = Annotated[str, Form(max_length=20_000)]
CsrfToken = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


def _path(conversation_id: str, action: str = "") -> str:
    return f"{API}/conversations/{quote(conversation_id, safe='')}{action}"


def _answered(response: object) -> TypeGuard[httpx.Response]:
    """The service answered (any status below 500): not down, not failing."""
    return isinstance(response, httpx.Response) and response.status_code < 500


def _to_login(next_path: str) -> Response:
    return login_redirect(next_path)


async def _staff(visit: Visit) -> Visitor | Response:
    """The agent looking at the inbox; a redirect to log in; 403 for anybody else."""
    visitor = await visit.visitor()
    if not visitor.signed_in:
        return _to_login(visit.request.url.path)
    if not visitor.is_staff:
        raise HTTPException(403, "The support inbox is for the support team.")
    return visitor


async def _history(backend: Backend, conversation_id: str) -> Any:
    """Every message of the conversation, oldest first (at most ``HISTORY_PAGES`` pages)."""
    messages: list[dict[str, Any]] = []
    cursor = None
    for _ in range(HISTORY_PAGES):
        params = {"limit": HISTORY_PAGE, **({"cursor": cursor} if cursor else {})}
        page = await backend.get("support", _path(conversation_id, "/messages"), params=params)
        if not isinstance(page, dict):
            return UNAVAILABLE if page is UNAVAILABLE else messages
        messages.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return messages


async def _conversation(backend: Backend, conversation_id: str) -> Any:
    """The conversation; ``None`` when the visitor may not see it (or it does not exist);
    ``UNAVAILABLE`` when the service could not say."""
    if len(conversation_id) > ID_LENGTH:
        return None
    found = await backend.get("support", _path(conversation_id))
    return found if isinstance(found, dict) or found is UNAVAILABLE else None


async def _mark_read(backend: Backend, conversation: dict[str, Any]) -> None:
    """Drawing the conversation is reading it (best effort: a failure leaves the count)."""
    if conversation.get("unread"):
        await backend.send("support", "POST", _path(conversation["id"], "/read"))


def customer_label(conversation: dict[str, Any]) -> str:
    """Who the agents are talking to: the name or email the service knows, else a short id."""
    return str(
        conversation.get("customer_name")
        or conversation.get("customer_email")
        or f"Customer {str(conversation.get('customer_id', ''))[:8]}"
    )


# -- the customer's side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """A form the service (or the page) refused: why, what was typed, and the page's status."""

    error: str | None = None
    draft: str = ""
    status_code: int = 200


async def _customer_page(visit: Visit, conversation_id: str | None = None, refused: Refused = Refused()) -> Response:
    visitor = await visit.visitor()
    if not visitor.signed_in:
        return _to_login(visit.request.url.path)
    if visitor.is_staff:  # agents answer in the inbox
        target = f"/admin/support/{quote(conversation_id, safe='')}" if conversation_id else "/admin/support"
        return RedirectResponse(target, status_code=303)
    backend = visit.backend
    listed = await backend.get("support", f"{API}/conversations", params={"limit": 20})
    conversations = listed["items"] if isinstance(listed, dict) else []
    current: Any = None
    if conversation_id is not None:
        current = await _conversation(backend, conversation_id)
        if current is None:
            raise HTTPException(404, "There is no such conversation.")
    elif listed is not UNAVAILABLE:
        current = next((c for c in conversations if c["status"] == "open"), None)
    messages: Any = []
    if isinstance(current, dict):
        messages = await _history(backend, current["id"])
        await _mark_read(backend, current)
    context = {
        "available": listed is not UNAVAILABLE and current is not UNAVAILABLE and messages is not UNAVAILABLE,
        "conversation": current if isinstance(current, dict) else None,
        "messages": messages if isinstance(messages, list) else [],
        "past": [c for c in conversations if not isinstance(current, dict) or c["id"] != current["id"]],
        "error": refused.error,
        "draft": refused.draft,
        "max_length": MESSAGE_MAX_LENGTH,
    }
    return await visit.render("chat/page.html", context, status_code=refused.status_code)


@router.get("/support")
async def customer_chat(visit: ThisVisit) -> Response:
    return await _customer_page(visit)


@router.get("/support/{conversation_id}")
async def customer_conversation(visit: ThisVisit, conversation_id: str) -> Response:
    return await _customer_page(visit, conversation_id)


def _unfit(body: str) -> str | None:
    """Why the message cannot be sent as it is (blank, too long), or None."""
    if not body.strip():
        return "Write a message first."
    if len(body.strip()) > MESSAGE_MAX_LENGTH:
        return f"A message has at most {MESSAGE_MAX_LENGTH} characters (this one has {len(body.strip())})."
    return None


async def _post_message(backend: Backend, conversation_id: str, body: str) -> tuple[str | None, int]:
    """Sends ``body``; (None, 201) when stored, else (what the visitor should read, status)."""
    sent = await backend.send("support", "POST", _path(conversation_id, "/messages"), json={"body": body})
    if not _answered(sent):
        return UNAVAILABLE_TEXT, 503
    if sent.status_code == 201:
        return None, 201
    if sent.status_code == 404:
        raise HTTPException(404, "There is no such conversation.")
    message, fields = problem_detail(sent)
    return fields.get("body", message), sent.status_code


@router.post("/support/messages")
async def customer_send(visit: ThisVisit, body: Body = "", csrf_token: CsrfToken = "") -> Response:
    """The no-JavaScript form: opens the visitor's conversation (or reuses the open one) and writes."""
    visitor = await visit.require_csrf(csrf_token)
    if not visitor.signed_in:
        return _to_login("/support")
    problem = _unfit(body)
    if problem is not None:
        return await _customer_page(visit, None, Refused(problem, body, 422))
    backend = visit.backend
    opened = await backend.send("support", "POST", f"{API}/conversations", json={"subject": "From: Support chat"})
    if not _answered(opened):
        return await _customer_page(visit, None, Refused(UNAVAILABLE_TEXT, body, 503))
    if opened.status_code not in (200, 201):
        message, _ = problem_detail(opened)
        return await _customer_page(visit, None, Refused(message, body, opened.status_code))
    error, status = await _post_message(backend, opened.json()["id"], body.strip())
    if error is not None:
        return await _customer_page(visit, None, Refused(error, body, status))
    return RedirectResponse("/support#latest", status_code=303)


# -- the agents' side ---------------------------------------------------------------------------


async def _inbox_page(
    visit: Visit,
    conversation_id: str | None,
    refused: Refused = Refused(),
    *,
    status: str = "open",
    cursor: str | None = None,
) -> Response:
    visitor = await _staff(visit)
    if isinstance(visitor, Response):
        return visitor
    backend = visit.backend
    conversation: Any = None
    messages: Any = []
    if conversation_id is not None:
        conversation = await _conversation(backend, conversation_id)
        if conversation is None:
            raise HTTPException(404, "There is no such conversation.")
        if isinstance(conversation, dict):
            messages = await _history(backend, conversation["id"])
            await _mark_read(backend, conversation)
            conversation = {**conversation, "unread": 0} if messages is not UNAVAILABLE else conversation
    params: dict[str, Any] = {"limit": INBOX_PAGE}
    if status != "all":
        params["status"] = status
    if cursor:
        params["cursor"] = cursor
    listed = await backend.get("support", f"{API}/conversations", params=params)
    if isinstance(listed, dict) and isinstance(conversation, dict):
        # the list was read after the read mark: the open conversation shows no unread messages
        listed = {**listed, "items": [conversation if c["id"] == conversation["id"] else c for c in listed["items"]]}
    context = {
        "inbox": listed if isinstance(listed, dict) else None,
        "status": status,
        "statuses": STATUSES,
        "conversation": conversation if isinstance(conversation, dict) else None,
        "conversation_available": conversation is not UNAVAILABLE and messages is not UNAVAILABLE,
        "messages": messages if isinstance(messages, list) else [],
        "label": customer_label,
        "layout": "admin/layout.html" if visitor.is_admin else "base.html",
        "nav": NAV,
        "error": refused.error,
        "draft": refused.draft,
        "max_length": MESSAGE_MAX_LENGTH,
    }
    return await visit.render("admin/support.html", context, status_code=refused.status_code)


Status = Annotated[str, Query(pattern="^(open|closed|all)$")]
Cursor = Annotated[str | None, Query(max_length=2000)]


@router.get("/admin/support")
async def inbox(visit: ThisVisit, status: Status = "open", cursor: Cursor = None) -> Response:
    return await _inbox_page(visit, None, status=status, cursor=cursor)


@router.get("/admin/support/{conversation_id}")
async def inbox_conversation(visit: ThisVisit, conversation_id: str, status: Status = "open") -> Response:
    return await _inbox_page(visit, conversation_id, status=status)


@router.post("/admin/support/{conversation_id}/messages")
async def agent_send(visit: ThisVisit, conversation_id: str, body: Body = "", csrf_token: CsrfToken = "") -> Response:
    await visit.require_csrf(csrf_token)
    visitor = await _staff(visit)
    if isinstance(visitor, Response):
        return visitor
    problem = _unfit(body)
    if problem is None:
        if len(conversation_id) > ID_LENGTH:
            raise HTTPException(404, "There is no such conversation.")
        problem, status = await _post_message(visit.backend, conversation_id, body.strip())
    else:
        status = 422
    if problem is not None:
        return await _inbox_page(visit, conversation_id, Refused(problem, body, status))
    return RedirectResponse(f"/admin/support/{quote(conversation_id, safe='')}#latest", status_code=303)


@router.post("/admin/support/{conversation_id}/close")
async def agent_close(visit: ThisVisit, conversation_id: str, csrf_token: CsrfToken = "") -> Response:
    await visit.require_csrf(csrf_token)
    visitor = await _staff(visit)
    if isinstance(visitor, Response):
        return visitor
    if len(conversation_id) > ID_LENGTH:
        raise HTTPException(404, "There is no such conversation.")
    closed = await visit.backend.send("support", "POST", _path(conversation_id, "/close"))
    if not _answered(closed):
        return await _inbox_page(visit, conversation_id, Refused(UNAVAILABLE_TEXT, "", 503))
    if closed.status_code == 404:
        raise HTTPException(404, "There is no such conversation.")
    return RedirectResponse(f"/admin/support/{quote(conversation_id, safe='')}", status_code=303)
