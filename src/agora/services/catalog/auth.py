"""The route guards the catalog uses.

Reading the catalog needs no token; a valid admin token additionally shows withdrawn
(inactive) products. Every write needs the ``admin`` role: 401 without a valid token, 403 with
any other role.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agora.platform.auth import Admin, OptionalSubject, Subject

ADMIN_ROLE = "admin"


async def is_admin(subject: Subject | None) -> bool:
    return subject is not None and subject.has_role(ADMIN_ROLE)


async def sees_inactive(subject: OptionalSubject) -> bool:
    return await is_admin(subject)


#: True when the caller may see inactive products (an admin).
SeesInactive = Annotated[bool, Depends(sees_inactive)]

__all__ = ["ADMIN_ROLE", "Admin", "SeesInactive", "Subject"]
