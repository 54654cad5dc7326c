""" "Similar products": TF-IDF over each product's text, cosine similarity, top-k kept per product.

A product's document is its name, description and tags plus one token for its category
(``category_<slug>``), so two products of one category share a term even when their words
differ. ``TfidfVectorizer`` weighs terms (English stop words dropped, sublinear term frequency,
rows L2-normalised), which makes the dot product of two rows their cosine similarity.

The model is built in memory from the local product table (:class:`SimilarityHolder`), at start
and whenever the table changed since the last build; a periodic task asks (see :mod:`.tasks`), so
a burst of product events costs one rebuild, not one per event. Only active products enter the
model. Building runs in a short-lived worker process (:func:`build_elsewhere`): requests keep
being served meanwhile, and scikit-learn, SciPy and NumPy (~85 MiB resident once imported, which
a process never gives back) live only in that worker, which exits after the build.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog

log = structlog.get_logger(__name__)

#: Rows compared per block: bounds the dense block to ``CHUNK_ROWS x products`` floats.
CHUNK_ROWS = 256


@dataclass(frozen=True)
class ProductText:
    id: str
    name: str
    description: str
    tags: Sequence[str]
    category: str


def category_token(slug: str) -> str:
    return "category_" + re.sub(r"\W", "_", slug.lower())


def document(product: ProductText) -> str:
    return " ".join((product.name, product.description, " ".join(product.tags), category_token(product.category)))


@dataclass(frozen=True)
class SimilarityModel:
    """Per product id, its most similar products, best first, as ``(id, cosine)`` with cosine > 0."""

    neighbours: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)

    def similar(self, product_id: str) -> tuple[tuple[str, float], ...]:
        return self.neighbours.get(product_id, ())

    def __len__(self) -> int:
        return len(self.neighbours)

    @classmethod
    def build(cls, products: Sequence[ProductText], *, top_k: int = 50) -> SimilarityModel:
        if len(products) < 2:
            return cls({product.id: () for product in products})
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, lowercase=True)
        try:
            matrix: Any = vectorizer.fit_transform([document(product) for product in products])
        except ValueError:  # an empty vocabulary: nothing but stop words
            return cls({product.id: () for product in products})
        ids = [product.id for product in products]
        count = len(ids)
        k = min(top_k, count - 1)
        neighbours: dict[str, tuple[tuple[str, float], ...]] = {}
        transposed = matrix.T.tocsc()
        for start in range(0, count, CHUNK_ROWS):
            block = np.asarray((matrix[start : start + CHUNK_ROWS] @ transposed).todense())
            for offset, row in enumerate(block):
                index = start + offset
                row[index] = -1.0  # never the product itself
                best = np.argpartition(-row, k - 1)[:k]
                ranked = sorted(best, key=lambda j: (-row[j], ids[j]))
                neighbours[ids[index]] = tuple((ids[j], round(float(row[j]), 6)) for j in ranked if row[j] > 0)
        return cls(neighbours)


async def build_elsewhere(products: Sequence[ProductText], *, top_k: int) -> SimilarityModel:
    """:meth:`SimilarityModel.build` in a fresh worker process that exits afterwards.

    A new interpreter (``spawn``: nothing of this process is copied) costs a second or two per
    build, which a rebuild that happens when the product table changed can afford; the service
    process then never imports the numerical stack it would keep for good.
    """
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await loop.run_in_executor(pool, partial(SimilarityModel.build, list(products), top_k=top_k))
    finally:
        # off the loop: shutting down waits for the worker to exit
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


@dataclass(frozen=True)
class Watermark:
    """What the product table looked like when a model was built; a change means rebuild."""

    products: int
    last_change: str | None


class SimilarityHolder:
    """The current model of one running service, swapped whole when a new one is built."""

    def __init__(self) -> None:
        self.model = SimilarityModel()
        self.watermark: Watermark | None = None
        self.builds = 0
        self._lock = asyncio.Lock()

    @property
    def built(self) -> bool:
        return self.watermark is not None

    async def refresh(self, load: Any, watermark: Watermark, *, top_k: int, force: bool = False) -> bool:
        """Rebuilds from ``await load()`` (the active products) unless ``watermark`` is the one built from."""
        async with self._lock:
            if not force and watermark == self.watermark:
                return False
            products = await load()
            model = await build_elsewhere(products, top_k=top_k)
            self.model, self.watermark = model, watermark
            self.builds += 1
        log.info("similarity_model_built", products=len(products), builds=self.builds)
        return True


__all__ = [
    "ProductText",
    "SimilarityHolder",
    "SimilarityModel",
    "Watermark",
    "build_elsewhere",
    "category_token",
    "document",
]
