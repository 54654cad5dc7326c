"""The route guards analytics uses.

Reports (``GET``) are for ``admin`` or ``support``; the ML routes for ``admin`` only; the
storefront's behaviour events are public (anonymous visitors too). 401 without a valid token,
403 with another role.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agora.platform.auth import Admin, OptionalSubject, Subject, require_role

Staff = Annotated[Subject, Depends(require_role("admin", "support"))]

__all__ = ["Admin", "OptionalSubject", "Staff"]
