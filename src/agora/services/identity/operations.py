"""Operator tasks run from the command line: the first admin, and signing-key rotation.

Each runs in one unit of work on a started service context (no HTTP), so the same rules as the
API apply: the password policy, the ``identity.user.registered`` event in the outbox (published
by the running service's relay), and a commit only when everything succeeded.
"""

from __future__ import annotations

from agora.platform.db import unit_of_work
from agora.platform.peers import runtime_in
from agora.platform.service import ServiceContext
from agora.services.identity.keys import rotate_signing_key
from agora.services.identity.runtime import IdentityRuntime
from agora.services.identity.schemas import RegisterIn


async def create_admin(context: ServiceContext, *, email: str, password: str) -> str:
    """Creates an admin account; returns its id. Raises ``pydantic.ValidationError`` for a bad
    email or password and ``ServiceError`` when the email is taken."""
    body = RegisterIn(email=email, password=password)
    async with unit_of_work(context.sessions) as session:
        service = runtime_in(context, IdentityRuntime).service(session)
        user = await service.register(body, role="admin")
        await session.commit()
        return user.id


async def rotate_key(context: ServiceContext) -> str:
    """Retires the active signing key and creates a new one; returns the new key id."""
    async with unit_of_work(context.sessions) as session:
        kid = await rotate_signing_key(session)
        await session.commit()
        return kid
