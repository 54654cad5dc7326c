"""The route guards the ads service uses.

Serving ads (``GET /api/ads``) needs no token. Everything else is the admin console's: 401
without a valid token, 403 with any role but ``admin``.
"""

from __future__ import annotations

from agora.platform.auth import Admin

__all__ = ["Admin"]
