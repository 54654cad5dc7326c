"""Every catalog query.

Product reads start from :meth:`CatalogRepository._products`, which already applies the
caller's visibility (visitors see active products only), so no endpoint can forget it.

Lists are keyset-paginated: each sort order has a total order (its key, then ``id``) and an
index to serve it (see ``models.py``); the position is the last row's key and id. Search
results are ordered by relevance, a float each database computes differently, which does not
make a reliable keyset, so they page by offset (bounded by :data:`MAX_SEARCH_OFFSET`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from opentelemetry import trace
from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.observability.tracing import exporting
from agora.services.catalog.models import Category, Product, ProductTag
from agora.services.catalog.search import fts5_best_matches, search_clause

MAX_SEARCH_OFFSET = 10_000
#: How many of the best-ranked matches a relevance page looks at first on SQLite, per row it
#: needs (all of them only when filters or visibility leave too few): ``_search_best_matches``.
SEARCH_WINDOW_FACTOR = 2
SEARCH_WINDOW_MIN = 20


class SortOrder(StrEnum):
    relevance = "relevance"
    newest = "newest"
    price_asc = "price_asc"
    price_desc = "price_desc"
    name = "name"


@dataclass(frozen=True)
class ProductFilters:
    words: tuple[str, ...] = ()
    category_id: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    tags: tuple[str, ...] = ()
    currency: str | None = None
    active: bool | None = None


@dataclass(frozen=True)
class Keyset:
    """Where the previous page ended: its last row's sort value and id."""

    value: Any
    id: str


@dataclass(frozen=True, slots=True)
class CategoryRef:
    id: str
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class ProductView:
    """A product as one read shows it: the attributes :func:`~.service.product_document` reads,
    without an ORM identity (nothing to track, refresh or flush)."""

    id: str
    sku: str
    name: str
    description: str
    price_amount: int
    price_currency: str
    category: CategoryRef
    tags_text: str
    images: list[str]
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def tags(self) -> list[str]:
        return self.tags_text.split() if self.tags_text else []


_PRODUCTS = Product.__table__
_CATEGORIES = Category.__table__
#: The product page's one SELECT in Core: the ORM's row-to-object work (identity map, joined
#: eager loading, instance state) was half of an uncached read's CPU (docs/performance.md).
_VIEW = select(
    *(_PRODUCTS.c[name] for name in ProductView.__slots__ if name != "category"),
    _CATEGORIES.c.id.label("category_ref_id"),
    _CATEGORIES.c.slug.label("category_ref_slug"),
    _CATEGORIES.c.name.label("category_ref_name"),
).join_from(_PRODUCTS, _CATEGORIES, _PRODUCTS.c.category_id == _CATEGORIES.c.id)


def _view_of(row: Any) -> ProductView:
    fields = row._mapping
    category = CategoryRef(fields["category_ref_id"], fields["category_ref_slug"], fields["category_ref_name"])
    return ProductView(
        **{name: fields[name] for name in ProductView.__slots__ if name != "category"},
        category=category,
    )


#: The same read spelled for asyncpg itself ($1: the id or the sku), prepared once per connection.
_PG_VIEW = (
    "SELECT p.id, p.sku, p.name, p.description, p.price_amount, p.price_currency, p.tags_text, p.images,"
    " p.active, p.version, p.created_at, p.updated_at, c.id, c.slug, c.name"
    " FROM products p JOIN categories c ON c.id = p.category_id WHERE p.{key} = $1{visible}"
)
_PG_VIEWS = {
    (key, include_inactive): _PG_VIEW.format(key=key, visible="" if include_inactive else " AND p.active")
    for key in ("id", "sku")
    for include_inactive in (False, True)
}


def _view_of_record(record: Any) -> ProductView:
    """A ProductView from the asyncpg record of :data:`_PG_VIEWS` (the conversions SQLAlchemy's
    column types make: JSON text to a list, naive UTC timestamps to aware ones)."""
    images = record[7]
    return ProductView(
        id=record[0],
        sku=record[1],
        name=record[2],
        description=record[3],
        price_amount=record[4],
        price_currency=record[5],
        tags_text=record[6],
        images=orjson.loads(images) if isinstance(images, str | bytes) else list(images or ()),
        active=record[8],
        version=record[9],
        created_at=record[10].replace(tzinfo=UTC),
        updated_at=record[11].replace(tzinfo=UTC),
        category=CategoryRef(record[12], record[13], record[14]),
    )


def dialect_name(session: AsyncSession) -> str:
    bind = session.bind
    if bind is None:
        raise RuntimeError("the catalog session is not bound to an engine")
    name = bind.dialect.name
    return "mysql" if name == "mariadb" else name


class CatalogRepository:
    def __init__(self, session: AsyncSession, *, include_inactive: bool = False) -> None:
        self.session = session
        self.include_inactive = include_inactive
        self.dialect = dialect_name(session)

    # -- products -------------------------------------------------------------------------------

    def _visible(self) -> list[ColumnElement[bool]]:
        return [] if self.include_inactive else [Product.active.is_(True)]

    async def _view(self, key: str, value: str) -> ProductView | None:
        if self.dialect == "postgresql":
            driver = await self._driver_connection()
            if driver is not None:
                record = await driver.fetchrow(_PG_VIEWS[key, self.include_inactive], value)
                return None if record is None else _view_of_record(record)
        statement = _VIEW.where(_PRODUCTS.c[key] == value, *self._visible())
        row = (await self.session.execute(statement)).first()
        return None if row is None else _view_of(row)

    async def _driver_connection(self) -> Any | None:
        """asyncpg's own connection under the session, for a read that is one statement, or None.

        Through SQLAlchemy a primary-key read cost ~0.85 ms of CPU against ~0.3 ms through the
        driver (statement cache lookup, execution context, result processing, the greenlet
        bridge; docs/performance.md). Only on an autocommit connection (a read session not behind
        PgBouncer: there is no transaction for the driver to step around) and only when no
        statement span would be recorded (spans exported and this trace sampled), so a sampled
        trace still shows the read.
        """
        connection = await self.session.connection()
        sync = connection.sync_connection
        if sync is None or sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            return None
        if exporting() and trace.get_current_span().is_recording():
            return None
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    async def get_product(self, product_id: str) -> ProductView | None:
        return await self._view("id", product_id)

    async def get_product_by_sku(self, sku: str) -> ProductView | None:
        return await self._view("sku", sku)

    async def get_product_for_update(self, product_id: str) -> Product | None:
        """Any product, active or not (admins edit withdrawn products too)."""
        result = await self.session.execute(select(Product).where(Product.id == product_id))
        return result.scalars().first()

    async def sku_exists(self, sku: str) -> bool:
        result = await self.session.execute(select(exists().where(Product.sku == sku)))
        return bool(result.scalar())

    async def existing_keys(self, skus: Sequence[str], ids: Sequence[str]) -> set[str]:
        """Which of ``skus`` and ``ids`` are taken (one set: skus and uuids cannot collide)."""
        found: set[str] = set()
        for column, values in ((Product.sku, skus), (Product.id, ids)):
            for start in range(0, len(values), 500):
                chunk = list(values[start : start + 500])
                result = await self.session.execute(select(column).where(column.in_(chunk)))
                found.update(result.scalars())
        return found

    def _conditions(self, filters: ProductFilters) -> list[ColumnElement[bool]]:
        """The caller's visibility and the list's filters (not the search words)."""
        conditions = self._visible()
        if filters.active is not None:
            conditions.append(Product.active.is_(filters.active))
        if filters.category_id is not None:
            conditions.append(Product.category_id == filters.category_id)
        if filters.min_price is not None:
            conditions.append(Product.price_amount >= filters.min_price)
        if filters.max_price is not None:
            conditions.append(Product.price_amount <= filters.max_price)
        if filters.currency is not None:
            conditions.append(Product.price_currency == filters.currency)
        for tag in filters.tags:
            conditions.append(exists().where(ProductTag.product_id == Product.id, ProductTag.tag == tag))
        return conditions

    def _filtered(self, filters: ProductFilters) -> Select[Product]:
        return select(Product).where(*self._conditions(filters))

    async def list_products(
        self,
        filters: ProductFilters,
        *,
        sort: SortOrder,
        limit: int,
        after: Keyset | None = None,
        offset: int = 0,
    ) -> list[Product]:
        """Up to ``limit`` products after ``after`` (keyset sorts) or ``offset`` (relevance)."""
        if sort is SortOrder.relevance:
            if not filters.words:
                raise ValueError("relevance order needs search words")
            offset = min(offset, MAX_SEARCH_OFFSET)
            if self.dialect == "sqlite":
                page = await self._search_best_matches(filters, limit=limit, offset=offset)
                if page is not None:
                    return page
            return await self._search_page(filters, limit=limit, offset=offset)
        statement = self._filtered(filters)
        if filters.words:
            search = search_clause(self.dialect, list(filters.words))
            if search.join is not None and search.join_on is not None:
                statement = statement.join(search.join, search.join_on)
            statement = statement.where(search.condition)
        statement = self._keyset(statement, sort, after)
        result = await self.session.execute(statement.limit(limit))
        return list(result.scalars().unique())

    async def _search_page(self, filters: ProductFilters, *, limit: int, offset: int) -> list[Product]:
        """A relevance-ordered page over every match: (rank, tiebreak, id), ``offset`` rows skipped."""
        statement = self._filtered(filters)
        search = search_clause(self.dialect, list(filters.words))
        if search.join is not None and search.join_on is not None:
            statement = statement.join(search.join, search.join_on)
        statement = statement.where(search.condition)
        if search.rank is not None:
            statement = statement.order_by(search.rank)
        if search.tiebreak is not None:
            statement = statement.order_by(search.tiebreak)
        result = await self.session.execute(statement.order_by(Product.id).offset(offset).limit(limit))
        return list(result.scalars().unique())

    async def _search_best_matches(self, filters: ProductFilters, *, limit: int, offset: int) -> list[Product] | None:
        """SQLite: the page from the best-ranked matches only, or None when they cannot fill it.

        Two short statements instead of one long one: the FTS table's best ``window`` ids, then
        those products through the caller's filters, put in rank order here. The page is right
        when the window's visible products fill it (everything outside ranks after them) or
        the window held every match.
        """
        window = max(SEARCH_WINDOW_MIN, SEARCH_WINDOW_FACTOR * (offset + limit))
        hits = (await self.session.execute(fts5_best_matches(list(filters.words), window))).all()
        if not hits:
            return []
        position = {hit.product_id: index for index, hit in enumerate(hits)}
        # likely(): the filters are checked on the rows the ids find; left bare, SQLite (no
        # statistics) walked an (active, ...) index over the whole catalog instead
        conditions = [func.likely(condition) for condition in self._conditions(filters)]
        result = await self.session.execute(select(Product).where(Product.id.in_(position), *conditions))
        products = sorted(result.scalars().unique(), key=lambda product: position[product.id])
        if len(products) >= offset + limit or len(hits) < window:
            return products[offset : offset + limit]
        return None

    @staticmethod
    def _keyset(statement: Select[Product], sort: SortOrder, after: Keyset | None) -> Select[Any]:
        key: Any
        descending = sort in (SortOrder.newest, SortOrder.price_desc)
        if sort is SortOrder.newest:
            key = Product.created_at
        elif sort in (SortOrder.price_asc, SortOrder.price_desc):
            key = Product.price_amount
        else:
            key = Product.name
        if after is not None:
            # (key, id) > (value, id) spelled out: row-value comparison is not portable
            if descending:
                statement = statement.where(or_(key < after.value, and_(key == after.value, Product.id < after.id)))
            else:
                statement = statement.where(or_(key > after.value, and_(key == after.value, Product.id > after.id)))
        if descending:
            return statement.order_by(key.desc(), Product.id.desc())
        return statement.order_by(key.asc(), Product.id.asc())

    @staticmethod
    def keyset_of(product: Product, sort: SortOrder) -> Keyset:
        value: Any
        if sort is SortOrder.newest:
            value = product.created_at
        elif sort in (SortOrder.price_asc, SortOrder.price_desc):
            value = product.price_amount
        else:
            value = product.name
        return Keyset(value=value, id=product.id)

    async def add_product(self, product: Product) -> None:
        self.session.add(product)
        await self.session.flush()
        await self._write_tags(product.id, product.tags)

    async def replace_tags(self, product: Product) -> None:
        await self.session.execute(delete(ProductTag).where(ProductTag.product_id == product.id))
        await self._write_tags(product.id, product.tags)

    async def _write_tags(self, product_id: str, tags: Sequence[str]) -> None:
        if tags:
            self.session.add_all(ProductTag(product_id=product_id, tag=tag) for tag in tags)
            await self.session.flush()

    async def add_products(self, products: Sequence[Product]) -> None:
        """Bulk insert for the seed: products, then their tag rows, in two flushes."""
        self.session.add_all(products)
        await self.session.flush()
        self.session.add_all(ProductTag(product_id=product.id, tag=tag) for product in products for tag in product.tags)
        await self.session.flush()

    async def count_products(self) -> int:
        result = await self.session.execute(select(func.count()).select_from(Product))
        return int(result.scalar_one())

    # -- categories -----------------------------------------------------------------------------

    async def list_categories(self, *, limit: int, after_slug: str | None = None) -> list[Category]:
        statement = select(Category).order_by(Category.slug).limit(limit)
        if after_slug is not None:
            statement = statement.where(Category.slug > after_slug)
        result = await self.session.execute(statement)
        return list(result.scalars())

    async def get_category_by_slug(self, slug: str) -> Category | None:
        result = await self.session.execute(select(Category).where(Category.slug == slug))
        return result.scalars().first()

    async def get_category(self, category_id: str) -> Category | None:
        return await self.session.get(Category, category_id)

    async def categories_by_id(self, ids: set[str]) -> dict[str, Category]:
        if not ids:
            return {}
        result = await self.session.execute(select(Category).where(Category.id.in_(ids)))
        return {category.id: category for category in result.scalars()}

    async def all_categories(self) -> list[Category]:
        result = await self.session.execute(select(Category))
        return list(result.scalars())

    async def add_category(self, category: Category) -> None:
        self.session.add(category)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()


__all__ = [
    "MAX_SEARCH_OFFSET",
    "CatalogRepository",
    "CategoryRef",
    "Keyset",
    "ProductFilters",
    "ProductView",
    "SortOrder",
    "dialect_name",
]
