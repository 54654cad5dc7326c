""" "Similar products": TF-IDF over each product's text, cosine similarity, top-k kept per product.

A product's document is its name, description and tags plus one token for its category
(``category_<slug>``), so two products of one category share a term even when their words
differ. ``TfidfVectorizer`` weighs terms (English stop words dropped, sublinear term frequency,
rows L2-normalised), which makes the dot product of two rows their cosine similarity.

The model is built in memory from the local product table (:class:`SimilarityHolder`), at start
and whenever the table changed since the last build; a periodic task asks (see :mod:`.tasks`), so
a burst of product events costs one rebuild, not one per event. Only active products enter the
model. Building runs in a short-lived child process (:func:`build_elsewhere`): requests keep
being served meanwhile, and scikit-learn, SciPy and NumPy (~85 MiB resident once imported, which
a process never gives back) live only in that worker, which exits after the build. Where they are
not installed (the common container image; ``agora-ml`` has them), there is no model: "similar"
is left out and bought-together and popular items still answer (see :mod:`agora.platform.ml`).
"""

from __future__ import annotations

import asyncio
import pickle
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from agora.platform import ml

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


#: What the worker process runs: read (products, top_k) pickled on stdin, write the model pickled.
_WORKER = "from agora.services.recommendations.similarity import build_from_stdin; build_from_stdin()"


async def build_elsewhere(products: Sequence[ProductText], *, top_k: int) -> SimilarityModel:
    """:meth:`SimilarityModel.build` in a fresh interpreter that exits afterwards.

    A plain child process (not ``multiprocessing``, whose resource tracker would stay alive
    beside the service, ~12 MiB) costs a second or two per build, which a rebuild that happens
    when the product table changed can afford; the service process then never imports the
    numerical stack it would keep for good. The pickles travel between two processes of ours.
    """
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WORKER,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await worker.communicate(pickle.dumps((list(products), top_k)))
    finally:
        if worker.returncode is None:  # cancelled (the service stops): the build is not needed
            worker.kill()
            await worker.wait()
    if worker.returncode != 0:
        raise RuntimeError(f"similarity worker exited with {worker.returncode}: {err.decode(errors='replace')[-2000:]}")
    model = pickle.loads(out)  # noqa: S301 - written by our own worker process just now
    assert isinstance(model, SimilarityModel)
    return model


def build_from_stdin() -> None:
    """The worker's side of :func:`build_elsewhere`."""
    products, top_k = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - sent by our own service process
    sys.stdout.buffer.write(pickle.dumps(SimilarityModel.build(products, top_k=top_k)))
    sys.stdout.flush()


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
        self.without_ml = False
        """True once a build was skipped because the ``ml`` extra is missing."""
        self._lock = asyncio.Lock()

    @property
    def built(self) -> bool:
        return self.watermark is not None

    async def refresh(self, load: Any, watermark: Watermark, *, top_k: int, force: bool = False) -> bool:
        """Rebuilds from ``await load()`` (the active products) unless ``watermark`` is the one built from."""
        async with self._lock:
            if not force and watermark == self.watermark:
                return False
            if absent := ml.missing():
                if not self.without_ml:
                    log.warning("similar_products_off", missing=absent, hint=ml.HINT)
                self.model, self.watermark, self.without_ml = SimilarityModel(), watermark, True
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
    "build_from_stdin",
    "category_token",
    "document",
]
