"""Identity's direct adapter of :class:`~agora.contracts.ports.IdentityPort` (embedded mode).

``user_contact`` is ``GET /api/identity/internal/users/{user_id}`` without HTTP
(:mod:`agora.platform.peers`): the service role first, the route's rule on the id, the same
lookup in identity's own database, the same 404 naming ``user_id``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from agora.contracts.identity import UserContact
from agora.platform.errors import NotFoundError
from agora.platform.peers import Peer, checked, reading
from agora.platform.service import ServiceContext
from agora.services.identity.repository import IdentityRepository

_USER_ID: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(max_length=36)])


class DirectIdentity:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def user_contact(self, user_id: str) -> UserContact:
        async def work(context: ServiceContext) -> UserContact:
            self._peer.caller.require("service")
            checked(_USER_ID, user_id, "path.user_id")
            async with reading(context) as session:
                user = await IdentityRepository(session).user_by_id(user_id)
            if user is None:
                raise NotFoundError("No such user.", field="user_id")
            return UserContact(id=user.id, email=user.email, display_name=user.display_name)

        return await self._peer.call("user_contact", work)


__all__ = ["DirectIdentity"]
