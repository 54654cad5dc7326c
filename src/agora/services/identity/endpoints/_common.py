"""What identity's endpoint modules share: the prefix, the router's defaults, the service
dependency and the answer that no browser or proxy may keep."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from agora.platform.db import Session
from agora.platform.http.problems import require_json
from agora.platform.http.responses import json_response
from agora.services.identity.runtime import Runtime
from agora.services.identity.service import IdentityService

PREFIX = "/api/identity"
#: tokens and profiles are never cached by browsers or proxies
NO_STORE = {"Cache-Control": "no-store"}


def identity_router() -> APIRouter:
    """A router for one concern's routes: identity's prefix and tag, JSON bodies only."""
    return APIRouter(prefix=PREFIX, tags=["identity"], dependencies=[Depends(require_json)])


async def _service(runtime: Runtime, session: Session) -> IdentityService:
    return runtime.service(session)


Service = Annotated[IdentityService, Depends(_service)]


def private_json(payload: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``payload`` as JSON with ``Cache-Control: no-store``."""
    return json_response(payload, status_code=status_code, headers={**NO_STORE, **(headers or {})})
