"""The recommendations' rules: keeping the facts from events, counting, and choosing what to show.

What is recommended, in rank order (each product once, the first reason that finds it wins):

1. ``bought_together``: products that were in the same paid orders, most orders together first
   (score: the number of orders);
2. ``similar``: the TF-IDF neighbours (score: the cosine similarity);
3. ``popular``: the cold start, filling what is left: the most bought active products of the
   category (score: units sold), newest first among equals.

Never the product itself, never an inactive product; per user, never what they already bought.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.catalog import Product as ProductContract
from agora.contracts.orders import OrderPaid
from agora.contracts.recommendations import Reason
from agora.platform.db.types import utcnow
from agora.platform.errors import NotFoundError
from agora.services.recommendations import metrics
from agora.services.recommendations.models import (
    CoPurchase,
    OrderLine,
    PaidOrder,
    Popularity,
    Product,
    UserPurchase,
)
from agora.services.recommendations.repository import RecommendationsRepository
from agora.services.recommendations.similarity import ProductText, SimilarityModel

#: Purchased products whose neighbours a user's recommendations draw on (the most bought ones).
MAX_USER_SEEDS = 50


@dataclass(frozen=True)
class Item:
    product_id: str
    score: float
    reason: Reason

    def document(self) -> dict[str, object]:
        return {"product_id": self.product_id, "score": self.score, "reason": self.reason}


def product_text(product: Product) -> ProductText:
    return ProductText(
        id=product.id,
        name=product.name,
        description=product.description,
        tags=product.tags.split(),
        category=product.category,
    )


class _Picks:
    """Items in rank order, each product once, never one of ``excluded``."""

    def __init__(self, excluded: Iterable[str], limit: int) -> None:
        self.excluded = set(excluded)
        self.limit = limit
        self.items: list[Item] = []

    @property
    def full(self) -> bool:
        return len(self.items) >= self.limit

    @property
    def taken(self) -> set[str]:
        return self.excluded | {item.product_id for item in self.items}

    def add(self, candidates: Iterable[tuple[str, float]], reason: Reason, *, allowed: set[str] | None = None) -> None:
        for product_id, score in candidates:
            if self.full:
                return
            if product_id in self.taken or (allowed is not None and product_id not in allowed):
                continue
            self.items.append(Item(product_id, float(score), reason))


class RecommendationsService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = RecommendationsRepository(session)

    # -- facts from the catalog -------------------------------------------------------------------

    async def record_product(self, product: ProductContract) -> bool:
        """Keeps the catalog's product; an event older than the stored version changes nothing."""
        row = await self.repository.get_product(product.id)
        if row is not None and row.version >= product.version:
            return False
        values = {
            "sku": product.sku,
            "name": product.name,
            "description": product.description,
            "tags": " ".join(product.tags),
            "category": product.category.slug,
            "active": product.active,
            "price_amount": product.price.amount,
            "price_currency": product.price.currency,
            "version": product.version,
            "created_at": product.created_at,
            "changed_at": utcnow(),
        }
        if row is None:
            await self.repository.add(Product(id=product.id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
            await self.repository.flush()
        return True

    async def withdraw_product(self, product_id: str, sku: str, version: int) -> bool:
        """``catalog.product.deleted``: the product is inactive from now on.

        A deletion that arrives before the product's creation leaves a placeholder (inactive, at
        the deletion's version), so the late creation, older, cannot bring the product back.
        """
        row = await self.repository.get_product(product_id)
        now = utcnow()
        if row is None:
            placeholder = Product(
                id=product_id,
                sku=sku,
                name="",
                description="",
                tags="",
                category="",
                active=False,
                price_amount=0,
                price_currency="USD",
                version=version,
                created_at=now,
                changed_at=now,
            )
            await self.repository.add(placeholder)
            return True
        if row.version > version:
            return False
        row.active, row.version, row.changed_at = False, version, now
        await self.repository.flush()
        return True

    # -- facts from orders ------------------------------------------------------------------------

    async def record_paid_order(self, event: OrderPaid, *, paid_at: datetime) -> bool:
        """Stores the order's lines and counts them; an order already recorded counts nothing."""
        if await self.repository.order_recorded(event.order_id):
            return False
        quantities: Counter[str] = Counter()
        for line in event.items:
            if line.quantity > 0:
                quantities[line.product_id] += line.quantity
        await self.repository.add(PaidOrder(order_id=event.order_id, user_id=event.user_id, paid_at=paid_at))
        for product_id, quantity in sorted(quantities.items()):
            self.session.add(OrderLine(order_id=event.order_id, product_id=product_id, quantity=quantity))
        await self.repository.flush()
        await self._count_order(event.user_id, quantities)
        return True

    async def _count_order(self, user_id: str, quantities: Counter[str]) -> None:
        products = sorted(quantities)
        for product_a, product_b in combinations(products, 2):  # each unordered pair once per order
            await self.repository.add_co_purchase(product_a, product_b)
        for product_id in products:
            await self.repository.add_user_purchase(user_id, product_id, quantities[product_id])
            await self.repository.add_popularity(product_id, quantities[product_id])

    async def rebuild(self) -> dict[str, int]:
        """Recomputes every derived table from the stored order lines (in this transaction).

        The derived rows are deleted before the lines are read: an order counted meanwhile by a
        running consumer either committed before the read (and is in it) or waits on the locks
        and adds to the recomputed rows; at worst its insert meets ours and one of the two
        transactions fails (the consumer retries; run the rebuild again).
        """
        await self.repository.clear_derived()
        orders: dict[str, tuple[str, Counter[str]]] = {}
        for order_id, user_id, product_id, quantity in await self.repository.all_order_lines():
            orders.setdefault(order_id, (user_id, Counter()))[1][product_id] += quantity
        pairs: Counter[tuple[str, str]] = Counter()
        purchases: Counter[tuple[str, str]] = Counter()
        units: Counter[str] = Counter()
        order_counts: Counter[str] = Counter()
        for user_id, lines in orders.values():
            pairs.update(combinations(sorted(lines), 2))
            for product_id, quantity in lines.items():
                purchases[(user_id, product_id)] += quantity
                units[product_id] += quantity
                order_counts[product_id] += 1
        return {
            "orders": len(orders),
            "co_purchases": await self.repository.insert_many(
                CoPurchase, ({"product_a": a, "product_b": b, "count": n} for (a, b), n in sorted(pairs.items()))
            ),
            "user_purchases": await self.repository.insert_many(
                UserPurchase,
                ({"user_id": u, "product_id": p, "quantity": q} for (u, p), q in sorted(purchases.items())),
            ),
            "popularity": await self.repository.insert_many(
                Popularity,
                ({"product_id": p, "units": units[p], "orders": order_counts[p]} for p in sorted(units)),
            ),
        }

    # -- reading ----------------------------------------------------------------------------------

    async def for_product(self, product_id: str, *, limit: int, model: SimilarityModel) -> list[Item]:
        product = await self.repository.get_product(product_id)
        if product is None:
            raise NotFoundError(f"No product with id {product_id} is known here.", field="product_id")
        picks = _Picks({product_id}, limit)
        picks.add(await self.repository.bought_with([product_id], exclude=picks.taken, limit=limit), "bought_together")
        if not picks.full:
            similar = model.similar(product_id)
            picks.add(similar, "similar", allowed=await self.repository.active_among([i for i, _ in similar]))
        if not picks.full:
            categories = [product.category] if product.category else []
            picks.add(await self.repository.popular(categories, exclude=picks.taken, limit=limit), "popular")
        self._count(picks.items)
        return picks.items

    async def for_user(self, user_id: str, *, limit: int, model: SimilarityModel) -> list[Item]:
        purchases = await self.repository.purchases_of(user_id)
        seeds = [p for p, _ in sorted(purchases.items(), key=lambda kv: (-kv[1], kv[0]))][:MAX_USER_SEEDS]
        picks = _Picks(purchases, limit)
        if seeds:
            picks.add(await self.repository.bought_with(seeds, exclude=picks.taken, limit=limit), "bought_together")
        if not picks.full and seeds:
            best: dict[str, float] = {}
            for seed in seeds:
                for other, score in model.similar(seed):
                    best[other] = max(score, best.get(other, 0.0))
            ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
            picks.add(ranked, "similar", allowed=await self.repository.active_among(best))
        if not picks.full and seeds:
            categories = {c for c in await self.repository.categories_of(seeds) if c}
            picks.add(await self.repository.popular(categories, exclude=picks.taken, limit=limit), "popular")
        if not picks.full:  # a new customer, or a small category: what sells overall
            picks.add(await self.repository.popular(None, exclude=picks.taken, limit=limit), "popular")
        self._count(picks.items)
        return picks.items

    def _count(self, items: list[Item]) -> None:
        for reason, served in Counter(item.reason for item in items).items():
            metrics.served_total.labels(reason).inc(served)


__all__ = ["Item", "RecommendationsService", "product_text"]
