"""The route guards shipping uses.

Quotes are public (the storefront shows them before login). Shipments carry a customer's address:
only services (orders, with its service token) and admins create and read them; only admins
confirm a delivery.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agora.platform.auth import Admin, Subject, require_role

#: Orders (role ``service``) or an admin.
ServiceOrAdmin = Annotated[Subject, Depends(require_role("service", "admin"))]

__all__ = ["Admin", "ServiceOrAdmin", "Subject"]
