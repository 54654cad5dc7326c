"""The route guards inventory uses.

Stock reads are public (the storefront shows availability). Setting a count needs ``admin``.
Reservations are internal: orders reserves with its service token (role ``service``); an admin
may also read, commit and release them (support fixing a stuck order), but never create one.
401 without a valid token, 403 with any other role.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agora.platform.auth import Admin, Subject, require_role

SERVICE_ROLE = "service"
ADMIN_ROLE = "admin"

#: Another service (orders) acting on its own behalf.
ServiceCaller = Annotated[Subject, Depends(require_role(SERVICE_ROLE))]
#: A service, or an admin operating on a reservation by hand.
ServiceOrAdmin = Annotated[Subject, Depends(require_role(SERVICE_ROLE, ADMIN_ROLE))]

__all__ = ["Admin", "ServiceCaller", "ServiceOrAdmin"]
