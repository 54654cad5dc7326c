"""The cart's direct adapter of :class:`~agora.contracts.ports.CartPort` (embedded mode).

The internal routes ``GET``/``DELETE /api/cart/users/{user_id}`` without HTTP
(:mod:`agora.platform.peers`): the service role checked first, then the user id as the route's
path rule takes it, then the cart service in the cart's own transaction (Redis or SQL, as
configured), the cart priced through the cart's own catalog port (both on its runtime).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.cart import Cart
from agora.platform.peers import Peer, checked, runtime_in, transaction
from agora.platform.service import ServiceContext
from agora.services.cart.runtime import CartRuntime
from agora.services.cart.schemas import USER_ID_PATTERN
from agora.services.cart.service import CartService, user_owner

_USER_ID: TypeAdapter[str] = TypeAdapter(Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)])


def _service(context: ServiceContext, session: AsyncSession) -> CartService:
    return runtime_in(context, CartRuntime).service(session)


class DirectCart:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    def _owner(self, user_id: str) -> str:
        self._peer.caller.require("service")
        return user_owner(checked(_USER_ID, user_id, "path.user_id"))

    async def user_cart(self, user_id: str) -> Cart:
        async def work(context: ServiceContext) -> Cart:
            owner = self._owner(user_id)
            async with transaction(context) as session:
                return await _service(context, session).view(owner, owner)

        return await self._peer.call("user_cart", work)

    async def clear_user_cart(self, user_id: str) -> None:
        async def work(context: ServiceContext) -> None:
            owner = self._owner(user_id)
            async with transaction(context) as session:
                await _service(context, session).clear(owner)

        await self._peer.call("clear_user_cart", work)


__all__ = ["DirectCart"]
