"""The route guards the media service uses.

Serving an image (bytes, thumbnail) needs no token: ids are random and the storefront shows them
to everyone. Uploading needs a signed-in user (a product image the admin role, checked once the
form says which purpose); deleting needs the owner or an admin.
"""

from __future__ import annotations

from agora.platform.auth import CurrentSubject, OptionalSubject, ServiceOrAdmin

__all__ = ["CurrentSubject", "OptionalSubject", "ServiceOrAdmin"]
