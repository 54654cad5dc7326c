"""Media's direct adapter of :class:`~agora.contracts.ports.MediaPort` (embedded mode).

``lookup`` is ``POST /api/media/lookup`` without HTTP (:mod:`agora.platform.peers`): service or
admin, the route's body rules (``schemas.LookupIn``: 1 to 50 media ids, a 422 naming the entry),
media's own transaction (a claim is written there), the same answer.
"""

from __future__ import annotations

from agora.contracts.media import ImageLookup, ImageRef, ImageRefs
from agora.platform.peers import Peer, parsed, transaction
from agora.platform.service import ServiceContext
from agora.services.media import schemas
from agora.services.media.runtime import media_runtime


class DirectMedia:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def lookup(self, request: ImageLookup) -> ImageRefs:
        async def work(context: ServiceContext) -> ImageRefs:
            self._peer.caller.require("service", "admin")
            body = parsed(schemas.LookupIn, request)
            async with transaction(context) as session:
                images = await media_runtime(context).service(session).lookup(list(body.ids), claim=body.claim)
            return ImageRefs(
                items=[ImageRef.model_validate({"id": image.id, "purpose": image.purpose}) for image in images]
            )

        return await self._peer.call("lookup", work)


__all__ = ["DirectMedia"]
