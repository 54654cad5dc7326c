"""Identity's HTTP routes under ``/api/identity``, one module per concern, each with its router:

* :mod:`._sessions`: login, refresh and logout (bearer tokens or a browser's session cookies);
* :mod:`._accounts`: registration, password reset, your profile and addresses;
* :mod:`._admin`: user management for admins, and the user lookup other services make;
* :mod:`._keys`: the JWKS, service tokens, and the revocations every service syncs.

:data:`router` holds them all (``spec.router``).
"""

from __future__ import annotations

from fastapi import APIRouter

from agora.services.identity.endpoints import _accounts, _admin, _keys, _sessions
from agora.services.identity.endpoints._common import PREFIX

router = APIRouter()
# the concerns' routes themselves, not ``include_router`` (which nests each router as a lazily
# matched sub-router, and the chassis serves a service's routes from one flat list)
router.routes.extend([*_sessions.router.routes, *_accounts.router.routes, *_keys.router.routes, *_admin.router.routes])

__all__ = ["PREFIX", "router"]
