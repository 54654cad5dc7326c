"""Keys and trust: the JWKS every service verifies tokens with, service tokens, and the
sessions and users in force that every service's revocation list syncs."""

from __future__ import annotations

from starlette.responses import Response

from agora.platform.auth.revocations import Revocations
from agora.platform.db import Session
from agora.platform.db.types import utcnow
from agora.platform.http.responses import json_response
from agora.services.identity import schemas
from agora.services.identity.auth import ServiceCaller
from agora.services.identity.endpoints._common import Service, identity_router, private_json
from agora.services.identity.keys import active_signing_key, jwks
from agora.services.identity.repository import IdentityRepository
from agora.services.identity.runtime import Runtime
from agora.services.identity.service import revocations_document

router = identity_router()


@router.get(
    "/.well-known/jwks.json",
    response_model=None,
    summary="Public keys that verify access tokens (active and recently retired)",
)
async def jwks_endpoint(runtime: Runtime, session: Session) -> Response:
    ttl = runtime.settings.access_token_ttl_seconds
    document = await jwks(session, access_token_ttl_seconds=ttl)
    if not document["keys"]:
        # nothing signed yet: publish the key that will sign the first token
        await active_signing_key(session)
        document = await jwks(session, access_token_ttl_seconds=ttl)
    return json_response(document, headers={"Cache-Control": "public, max-age=300"})


@router.post(
    "/service-tokens",
    response_model=None,
    responses={200: {"model": schemas.ServiceToken}, 401: {}, 422: {}},
    summary="A short-lived token for a service calling other services' internal routes",
)
async def service_token(runtime: Runtime, svc: Service, body: schemas.ServiceTokenIn) -> Response:
    platform = runtime.platform
    ttl = platform.service_token_ttl_seconds
    token = await svc.issue_service_token(
        body.service, body.secret, expected=platform.service_secret.get_secret_value(), ttl_seconds=ttl
    )
    return private_json({"access_token": token, "token_type": "bearer", "expires_in": ttl})


@router.get(
    "/internal/revocations",
    response_model=None,
    responses={200: {"model": Revocations}, 401: {}, 403: {}},
    summary="Ended sessions and disabled users whose tokens may still be alive (every service syncs them)",
)
async def revocations(_caller: ServiceCaller, session: Session) -> Response:
    rows = await IdentityRepository(session).revocations_in_force(utcnow())
    return private_json(revocations_document(list(rows)).model_dump(mode="json"))
