"""Every query of the recommendations service.

Visibility: whatever is recommended must be an active product, so every candidate query joins
``products`` with ``active`` true (:func:`_active_products`). Counters are incremented with each
dialect's own upsert, one statement, so concurrent orders never lose an increment.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, union_all
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.recommendations.models import CoPurchase, OrderLine, PaidOrder, Popularity, Product, UserPurchase

#: Rows per multi-row INSERT when the derived tables are rebuilt.
BULK_ROWS = 500


def _active_products() -> Select[Any]:
    return select(Product.id).where(Product.active.is_(True))


class RecommendationsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- products ---------------------------------------------------------------------------------

    async def get_product(self, product_id: str) -> Product | None:
        return await self.session.get(Product, product_id)

    async def add(self, row: Any) -> None:
        self.session.add(row)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()

    async def active_products(self) -> Sequence[Product]:
        return (await self.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.id))).all()

    async def active_among(self, ids: Collection[str]) -> set[str]:
        if not ids:
            return set()
        return set((await self.session.scalars(_active_products().where(Product.id.in_(list(ids))))).all())

    async def watermark(self) -> tuple[int, Any]:
        row = (
            await self.session.execute(select(func.count(), func.max(Product.changed_at)).select_from(Product))
        ).one()
        return int(row[0] or 0), row[1]

    async def categories_of(self, ids: Collection[str]) -> set[str]:
        if not ids:
            return set()
        return set((await self.session.scalars(select(Product.category).where(Product.id.in_(list(ids))))).all())

    # -- orders -----------------------------------------------------------------------------------

    async def order_recorded(self, order_id: str) -> bool:
        return await self.session.get(PaidOrder, order_id) is not None

    async def all_order_lines(self) -> Sequence[tuple[str, str, str, int]]:
        """(order_id, user_id, product_id, quantity) of every recorded order, by order."""
        statement = (
            select(OrderLine.order_id, PaidOrder.user_id, OrderLine.product_id, OrderLine.quantity)
            .join(PaidOrder, PaidOrder.order_id == OrderLine.order_id)
            .order_by(OrderLine.order_id, OrderLine.product_id)
        )
        return [(row[0], row[1], row[2], row[3]) for row in (await self.session.execute(statement)).all()]

    # -- derived counters -------------------------------------------------------------------------

    def _upsert_add(self, model: Any, keys: Mapping[str, Any], adds: Mapping[str, int]) -> Any:
        values = {**keys, **adds}
        dialect = self.session.get_bind().dialect.name
        if dialect in ("mysql", "mariadb"):
            statement = mysql_insert(model).values(**values)
            return statement.on_duplicate_key_update(
                **{name: getattr(model, name) + getattr(statement.inserted, name) for name in adds}
            )
        upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(model).values(**values)
        return upsert.on_conflict_do_update(
            index_elements=[getattr(model, name) for name in keys],
            set_={name: getattr(model, name) + getattr(upsert.excluded, name) for name in adds},
        )

    async def add_co_purchase(self, product_a: str, product_b: str) -> None:
        if not product_a < product_b:  # one row per unordered pair (a check, not an assert: kept at -OO)
            raise ValueError(f"co-purchase pair out of order: {product_a!r} >= {product_b!r}")
        statement = self._upsert_add(CoPurchase, {"product_a": product_a, "product_b": product_b}, {"count": 1})
        await self.session.execute(statement)

    async def add_user_purchase(self, user_id: str, product_id: str, quantity: int) -> None:
        statement = self._upsert_add(
            UserPurchase, {"user_id": user_id, "product_id": product_id}, {"quantity": quantity}
        )
        await self.session.execute(statement)

    async def add_popularity(self, product_id: str, units: int) -> None:
        statement = self._upsert_add(Popularity, {"product_id": product_id}, {"units": units, "orders": 1})
        await self.session.execute(statement)

    async def clear_derived(self) -> None:
        for model in (CoPurchase, UserPurchase, Popularity):
            await self.session.execute(delete(model))

    async def insert_many(self, model: Any, rows: Iterable[dict[str, Any]]) -> int:
        batch: list[dict[str, Any]] = []
        written = 0
        for row in rows:
            batch.append(row)
            if len(batch) >= BULK_ROWS:
                await self.session.execute(insert(model), batch)
                written, batch = written + len(batch), []
        if batch:
            await self.session.execute(insert(model), batch)
            written += len(batch)
        return written

    # -- candidates (active products only) --------------------------------------------------------

    async def bought_with(
        self, product_ids: Collection[str], *, exclude: Collection[str], limit: int
    ) -> list[tuple[str, int]]:
        """Active products bought together with any of ``product_ids``: (id, orders together), most first."""
        ids = list(product_ids)
        sides = union_all(
            select(CoPurchase.product_b.label("other"), CoPurchase.count.label("n")).where(
                CoPurchase.product_a.in_(ids)
            ),
            select(CoPurchase.product_a.label("other"), CoPurchase.count.label("n")).where(
                CoPurchase.product_b.in_(ids)
            ),
        ).subquery()
        total = func.sum(sides.c.n).label("total")
        statement = (
            select(sides.c.other, total)
            .join(Product, Product.id == sides.c.other)
            .where(Product.active.is_(True))
            .group_by(sides.c.other)
            .order_by(total.desc(), sides.c.other)
            .limit(limit + len(set(exclude)))
        )
        rows = (await self.session.execute(statement)).all()
        return [(row[0], int(row[1])) for row in rows if row[0] not in exclude][:limit]

    async def popular(
        self, categories: Collection[str] | None, *, exclude: Collection[str], limit: int
    ) -> list[tuple[str, int]]:
        """Active products of ``categories`` (all when None), most units sold first, then newest."""
        units = func.coalesce(Popularity.units, 0).label("units")
        statement = (
            select(Product.id, units)
            .outerjoin(Popularity, Popularity.product_id == Product.id)
            .where(Product.active.is_(True))
            .order_by(units.desc(), Product.created_at.desc(), Product.id)
            .limit(limit)
        )
        if categories is not None:
            statement = statement.where(Product.category.in_(list(categories)))
        if exclude:
            statement = statement.where(Product.id.not_in(list(exclude)))
        return [(row[0], int(row[1])) for row in (await self.session.execute(statement)).all()]

    async def purchases_of(self, user_id: str) -> dict[str, int]:
        statement = select(UserPurchase.product_id, UserPurchase.quantity).where(UserPurchase.user_id == user_id)
        return {row[0]: int(row[1]) for row in (await self.session.execute(statement)).all()}
