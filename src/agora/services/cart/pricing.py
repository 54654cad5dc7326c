"""The catalog, as the cart sees it: products by id, fetched concurrently, as a visitor.

Calls go out explicitly anonymous (an empty ``Authorization``): the cart shows what any
visitor may buy, so an admin's cart does not price withdrawn products, and the catalog can
answer from its read cache (prices may lag a catalog change by its cache TTL, five seconds by
default; checkout re-prices anyway).

A product the catalog does not know (404) is ``None``; any other failure (transport error,
timeout, open circuit, a 5xx, an answer that is not a product) means the catalog is
unavailable: :class:`CatalogUnavailable`, a retryable 503 for a write that needs to check a
product, and "pricing unavailable" for a cart read, which degrades instead of failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx
import structlog
from pydantic import ValidationError

from agora.contracts.catalog import Product
from agora.platform.http.clients import ServiceClient
from agora.platform.http.problems import ServiceUnavailable
from agora.platform.http.resilience import CircuitOpenError

log = structlog.get_logger(__name__)

PRODUCT_PATH = "/api/catalog/products/{id}"


class CatalogUnavailable(ServiceUnavailable):
    """503 with ``Retry-After``: the catalog did not answer, so nothing was changed."""

    def __init__(self) -> None:
        super().__init__(
            "The catalog is unavailable, so the product could not be checked; nothing was changed. Try again shortly.",
            headers={"Retry-After": "2"},
        )


class CatalogPrices:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def product(self, product_id: str) -> Product | None:
        try:
            response = await self.client.get(PRODUCT_PATH.format(id=product_id), headers={"authorization": ""})
        except (httpx.HTTPError, CircuitOpenError) as exc:
            log.warning("catalog_unavailable", error=type(exc).__name__)
            raise CatalogUnavailable from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.warning("catalog_unavailable", status=response.status_code)
            raise CatalogUnavailable
        try:
            return Product.model_validate_json(response.content)
        except ValidationError:
            log.warning("catalog_unexpected_answer", product_id=product_id)
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


__all__ = ["CatalogPrices", "CatalogUnavailable"]
