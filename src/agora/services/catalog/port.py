"""The catalog's direct adapter of :class:`~agora.contracts.ports.CatalogPort` (embedded mode).

``product`` is ``GET /api/catalog/products/{id}`` without HTTP (:mod:`agora.platform.peers`):
the catalog-latency fault flag slows it as it slows the route, an anonymous caller (the cart
pricing a line) is served from the same read cache as a visitor (the same bytes the route would
send, kept once for both), a caller with an identity reads the database and sees withdrawn
products only if it is an admin; an unknown or hidden product is the same ``NotFoundError``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from agora.contracts.catalog import Product
from agora.platform.faults import CATALOG_LATENCY
from agora.platform.http.etag import EncodedJson
from agora.platform.peers import Peer, checked
from agora.platform.service import ServiceContext
from agora.services.catalog.auth import ADMIN_ROLE
from agora.services.catalog.service import CatalogService, product_document

_PRODUCT_ID: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(max_length=64)])


async def _document(context: ServiceContext, product_id: str, *, sees_inactive: bool) -> EncodedJson:
    async with context.read_sessions() as session:
        service = CatalogService(session, events=context.outbox, include_inactive=sees_inactive)
        return EncodedJson.of(product_document(await service.get_product(product_id)))


class DirectCatalog:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def product(self, product_id: str) -> Product:
        async def work(context: ServiceContext) -> Product:
            if context.faults is not None:
                await context.faults.delay(CATALOG_LATENCY)
            checked(_PRODUCT_ID, product_id, "path.product_id")
            subject = self._peer.caller.subject
            if subject is not None:
                encoded = await _document(context, product_id, sees_inactive=subject.has_role(ADMIN_ROLE))
            else:
                encoded = await context.read_cache.get_or_load(
                    ("id", product_id), lambda: _document(context, product_id, sees_inactive=False)
                )
            return Product.model_validate_json(encoded.body)

        return await self._peer.call("product", work)


__all__ = ["DirectCatalog"]
