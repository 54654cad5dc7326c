"""Users, for admins (list by email prefix, change a role, disable), and the one lookup other
services make (notifications' ``/internal/users/{id}``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from starlette.responses import Response

from agora.contracts.identity import UserContact
from agora.platform.db import Session
from agora.platform.http.deps import Cursors
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import ProblemError
from agora.services.identity import schemas
from agora.services.identity.auth import AdminUser, ServiceCaller
from agora.services.identity.endpoints._common import Service, identity_router, private_json
from agora.services.identity.models import User
from agora.services.identity.repository import IdentityRepository
from agora.services.identity.service import email_prefix_filter, user_document

EMAIL_PREFIX_LENGTH = 254
#: The list a users cursor belongs to.
USERS = "users"

UserId = Annotated[str, Path(max_length=36, description="The user id (a UUID).")]
EmailPrefix = Annotated[str | None, Query(max_length=EMAIL_PREFIX_LENGTH, description="Email prefix.")]

router = identity_router()


def _position(user: User) -> tuple[str, str]:
    return user.email, user.id


@router.get(
    "/users",
    response_model=None,
    responses={200: {"model": schemas.UserPage}, 401: {}, 403: {}},
    summary="List users, optionally by email prefix (admin)",
)
async def list_users(
    _admin: AdminUser,
    svc: Service,
    cursors: Cursors,
    email: EmailPrefix = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    prefix = email_prefix_filter(email)
    # a cursor carries the filter it was made for: another prefix's is refused (422)
    after = cursors.decode(cursor, tuple[str, str], of=USERS, email=prefix)
    rows = await svc.list_users(email_prefix=prefix, after=after, limit=limit + 1)
    users, next_cursor = cursors.page(rows, limit, _position, of=USERS, email=prefix)
    return private_json({"items": [user_document(u) for u in users], "next_cursor": next_cursor})


@router.patch(
    "/users/{user_id}",
    response_model=None,
    responses={200: {"model": schemas.UserOut}, 401: {}, 403: {}, 404: {}, 409: {}, 422: {}},
    summary="Change a user's role or disable/enable them (admin); disabling ends their sessions",
)
async def update_user(admin: AdminUser, svc: Service, user_id: UserId, body: schemas.UserAdminUpdate) -> Response:
    user = await svc.update_user(admin.id, user_id, body)
    return private_json(user_document(user))


@router.get(
    "/internal/users/{user_id}",
    response_model=None,
    responses={200: {"model": UserContact}, 401: {}, 403: {}, 404: {}, 422: {}},
    summary="A user's address and name, for a service that writes to them (notifications)",
)
async def internal_user(_caller: ServiceCaller, session: Session, user_id: UserId) -> Response:
    user = await IdentityRepository(session).user_by_id(user_id)
    if user is None:
        raise ProblemError("No such user.", status=404, field="user_id")
    return private_json(UserContact(id=user.id, email=user.email, display_name=user.display_name).model_dump())
