"""The route guards inventory uses.

Stock reads are public (the storefront shows availability). Setting a count needs ``admin``.
Reservations are internal: orders reserves with its service token (role ``service``); an admin
may also read, commit and release them (support fixing a stuck order), but never create one.
401 without a valid token, 403 with any other role.
"""

from __future__ import annotations

from agora.platform.auth import Admin, ServiceCaller, ServiceOrAdmin

__all__ = ["Admin", "ServiceCaller", "ServiceOrAdmin"]
