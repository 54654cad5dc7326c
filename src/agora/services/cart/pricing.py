"""The catalog, as the cart sees it: products by id, fetched concurrently, as a visitor.

Through the catalog's port (:mod:`agora.contracts.ports`; HTTP when distributed, the catalog's
application layer when embedded), called anonymously: the cart shows what any visitor may buy,
so an admin's cart does not price withdrawn products, and the catalog can answer from its read
cache (prices may lag a catalog change by its cache TTL, five seconds by default; checkout
re-prices anyway).

A product the catalog does not show (404) is ``None``; any other failure (transport error,
timeout, open circuit, a 5xx, an answer that is not a product) means the catalog is
unavailable: :class:`CatalogUnavailable`, a retryable 503 for a write that needs to check a
product, and "pricing unavailable" for a cart read, which degrades instead of failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

from agora.contracts import http
from agora.contracts.catalog import Product
from agora.contracts.ports import CatalogPort
from agora.platform.errors import NotFoundError, ServiceError
from agora.platform.http.problems import ServiceUnavailable
from agora.platform.peers import port_of
from agora.platform.service import ServiceContext

log = structlog.get_logger(__name__)


class CatalogUnavailable(ServiceUnavailable):
    """503 with ``Retry-After``: the catalog did not answer, so nothing was changed."""

    def __init__(self) -> None:
        super().__init__(
            "The catalog is unavailable, so the product could not be checked; nothing was changed. Try again shortly.",
            headers={"Retry-After": "2"},
        )


class CatalogPrices:
    def __init__(self, catalog: CatalogPort) -> None:
        self.catalog = catalog

    async def product(self, product_id: str) -> Product | None:
        try:
            return await self.catalog.product(product_id)
        except NotFoundError:
            return None
        except ServiceError as exc:
            log.warning("catalog_unavailable", error=type(exc).__name__, status=exc.status)
            raise CatalogUnavailable from None

    async def products(self, product_ids: Iterable[str]) -> dict[str, Product | None]:
        """Every product at once (concurrently); raises :class:`CatalogUnavailable` if any failed."""
        ids = list(dict.fromkeys(product_ids))
        results = await asyncio.gather(*(self.product(product_id) for product_id in ids), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                if isinstance(result, CatalogUnavailable):
                    raise CatalogUnavailable
                raise result
        return {product_id: result for product_id, result in zip(ids, results, strict=True)}  # type: ignore[misc]


def catalog_prices(context: ServiceContext) -> CatalogPrices:
    """The cart's view of the catalog (the adapter chosen by mode); the runtime builds it once.
    Nothing to close: the port's client belongs to the chassis."""
    return CatalogPrices(port_of(context, "catalog", CatalogPort, http.HttpCatalog, as_service=False))


__all__ = ["CatalogPrices", "CatalogUnavailable", "catalog_prices"]
