"""Accounts: ``POST /register``, the password reset, and your own profile and addresses (``/me``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Path, Request
from starlette.responses import Response

from agora.services.identity import schemas
from agora.services.identity.auth import Me
from agora.services.identity.endpoints._common import NO_STORE, PREFIX, Service, identity_router, private_json
from agora.services.identity.runtime import Runtime
from agora.services.identity.service import address_document, user_document
from agora.services.identity.throttle import client_address

AddressId = Annotated[str, Path(max_length=36, description="The address id (a UUID).")]

router = identity_router()


@router.post(
    "/register",
    status_code=201,
    response_model=None,
    responses={201: {"model": schemas.UserOut}, 409: {}, 422: {}},
    summary="Create a customer account",
)
async def register(svc: Service, body: schemas.RegisterIn) -> Response:
    user = await svc.register(body)
    return private_json(user_document(user), status_code=201, headers={"Location": f"{PREFIX}/me"})


@router.post(
    "/password-reset",
    status_code=202,
    response_model=None,
    # no body: the document must not promise JSON
    response_class=Response,
    responses={202: {"description": "Accepted: a link is on its way if the account exists."}, 422: {}, 429: {}},
    summary="Email a single-use password reset link (the same answer whether the account exists)",
    description="429 with `Retry-After` past the requests allowed per email or per client in a window.",
)
async def password_reset(request: Request, runtime: Runtime, svc: Service, body: schemas.PasswordResetIn) -> Response:
    await runtime.throttle.reset_requested(body.email, client_address(request))
    ttl = timedelta(seconds=runtime.settings.password_reset_ttl_seconds)
    await svc.request_password_reset(body.email, ttl=ttl)
    return Response(status_code=202, headers=NO_STORE)


@router.post(
    "/password-reset/confirm",
    status_code=204,
    response_model=None,
    responses={204: {}, 400: {}, 422: {}},
    summary="Set a new password with the link's token (once, before it expires); ends every session",
)
async def password_reset_confirm(svc: Service, body: schemas.PasswordResetConfirmIn) -> Response:
    await svc.reset_password(body.token, body.password)
    return Response(status_code=204, headers=NO_STORE)


@router.get("/me", response_model=None, responses={200: {"model": schemas.UserOut}, 401: {}}, summary="You")
async def me(user: Me) -> Response:
    return private_json(user_document(user))


@router.patch(
    "/me",
    response_model=None,
    responses={200: {"model": schemas.UserOut}, 401: {}, 422: {}},
    summary="Change your profile (display name); role and active flag are refused",
)
async def update_me(user: Me, svc: Service, body: schemas.MeUpdate) -> Response:
    user = await svc.update_profile(user, body.model_dump(exclude_unset=True))
    return private_json(user_document(user))


@router.get(
    "/me/addresses",
    response_model=None,
    responses={200: {"model": schemas.AddressList}, 401: {}},
    summary="Your addresses",
)
async def list_addresses(user: Me, svc: Service) -> Response:
    addresses = await svc.addresses(user)
    return private_json({"items": [address_document(a) for a in addresses], "next_cursor": None})


@router.post(
    "/me/addresses",
    status_code=201,
    response_model=None,
    responses={201: {"model": schemas.AddressOut}, 401: {}, 422: {}},
    summary="Add an address",
)
async def add_address(user: Me, svc: Service, body: schemas.AddressIn) -> Response:
    address = await svc.add_address(user, body)
    location = f"{PREFIX}/me/addresses/{address.id}"
    return private_json(address_document(address), status_code=201, headers={"Location": location})


@router.get(
    "/me/addresses/{address_id}",
    response_model=None,
    responses={200: {"model": schemas.AddressOut}, 401: {}, 404: {}},
    summary="One of your addresses",
)
async def get_address(user: Me, svc: Service, address_id: AddressId) -> Response:
    address = await svc.address(user, address_id)
    return private_json(address_document(address))


@router.patch(
    "/me/addresses/{address_id}",
    response_model=None,
    responses={200: {"model": schemas.AddressOut}, 401: {}, 404: {}, 422: {}},
    summary="Change one of your addresses",
)
async def update_address(user: Me, svc: Service, address_id: AddressId, body: schemas.AddressUpdate) -> Response:
    address = await svc.update_address(user, address_id, body)
    return private_json(address_document(address))


@router.delete(
    "/me/addresses/{address_id}",
    status_code=204,
    response_model=None,
    responses={204: {}, 401: {}, 404: {}},
    summary="Delete one of your addresses",
)
async def delete_address(user: Me, svc: Service, address_id: AddressId) -> Response:
    await svc.delete_address(user, address_id)
    return Response(status_code=204)
