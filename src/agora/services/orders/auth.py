"""The route guards orders uses.

Checkout and history need a signed-in person (customer, support or admin); a service token is
not a shopper. Admins (and support, who answer customers' questions) read every order; others
only their own, which the repository enforces (``visible_to``). Shipping and delivery are admin
work.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agora.platform.auth import Admin, Subject, require_role

SHOPPER_ROLES = ("customer", "support", "admin")
SEES_ALL_ROLES = ("admin", "support")

#: A signed-in person (401 anonymous, 403 for a service token).
Shopper = Annotated[Subject, Depends(require_role(*SHOPPER_ROLES))]


def sees_all(subject: Subject) -> bool:
    return subject.has_role(*SEES_ALL_ROLES)


def may_cancel_any(subject: Subject) -> bool:
    return subject.has_role("admin")


__all__ = ["Admin", "Shopper", "sees_all"]
