"""The catalog's rules: what a valid change is, and which event it publishes.

No web framework here and no commit: the caller's unit of work (the request session, or the
seed's) commits the change and its outbox event together. Failures are :class:`CatalogError`
subclasses; the endpoints turn them into problem responses.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from agora.contracts.catalog import Product as ProductContract
from agora.contracts.catalog import ProductCreated, ProductDeleted, ProductUpdated
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import ConflictError, NotFoundError, ServiceError, UnprocessableError
from agora.platform.http.pagination import CURSOR_FIELD, Cursors
from agora.platform.messaging import Outbox
from agora.services.catalog.models import Category, Product
from agora.services.catalog.repository import (
    MAX_SEARCH_OFFSET,
    CatalogRepository,
    CategoryRef,
    Keyset,
    ProductFilters,
    ProductView,
    SortOrder,
)
from agora.services.catalog.schemas import CategoryCreate, CategoryUpdate, MoneyIn, ProductCreate, ProductUpdate

# -- errors --------------------------------------------------------------------------------------


class CatalogError(ServiceError):
    """Every catalog rule's refusal (the chassis answers it as a problem with its status)."""


class ConcurrentUpdateError(ConflictError):
    """Another writer changed the product between this request's read and its write."""


#: The lists a cursor belongs to.
PRODUCTS = "products"
CATEGORIES = "categories"

#: What a products cursor holds, by sort: the offset into a relevance ranking, else the last row's
#: sort value and id (a refused cursor is the chassis's 422 naming ``query.cursor``).
_KEYS: dict[SortOrder, type[tuple[Any, str]]] = {
    SortOrder.newest: tuple[datetime, str],
    SortOrder.price_asc: tuple[int, str],
    SortOrder.price_desc: tuple[int, str],
    SortOrder.name: tuple[str, str],
}


# -- representations -----------------------------------------------------------------------------


def category_ref(category: Category | CategoryRef) -> dict[str, Any]:
    return {"id": category.id, "slug": category.slug, "name": category.name}


def category_document(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "slug": category.slug,
        "name": category.name,
        "description": category.description,
    }


def product_contract(product: Product | ProductView) -> ProductContract:
    """The product as events carry it."""
    return ProductContract.model_validate(product_document(product))


def product_document(product: Product | ProductView) -> dict[str, Any]:
    """The product as the API returns it and events carry it (``agora.contracts.catalog.Product``)."""
    return {
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": {"amount": product.price_amount, "currency": product.price_currency},
        "category": category_ref(product.category),
        "tags": product.tags,
        "images": list(product.images),
        "active": product.active,
        "version": product.version,
        "created_at": iso_utc(product.created_at),
        "updated_at": iso_utc(product.updated_at),
    }


# -- listing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductQuery:
    """A list request after parsing: ``q`` already split into words by :func:`search.terms`."""

    words: tuple[str, ...] = ()
    category: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    tags: tuple[str, ...] = ()
    currency: str | None = None
    active: bool | None = None
    sort: SortOrder | None = None

    def effective_sort(self) -> SortOrder:
        if self.sort is not None:
            return self.sort
        return SortOrder.relevance if self.words else SortOrder.newest

    def fingerprint(self, include_inactive: bool) -> str:
        """Binds a cursor to the list it came from: reusing it with other filters is a 422."""
        material = orjson.dumps(
            [
                list(self.words),
                self.category,
                self.min_price,
                self.max_price,
                list(self.tags),
                self.currency,
                self.active,
                self.effective_sort().value,
                include_inactive,
            ]
        )
        return hashlib.blake2b(material, digest_size=8).hexdigest()


@dataclass(frozen=True)
class ProductPage:
    items: list[Product]
    next_cursor: str | None


class CatalogService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        events: Outbox,
        include_inactive: bool = False,
    ) -> None:
        self.session = session
        self.events = events
        self.include_inactive = include_inactive
        self.repository = CatalogRepository(session, include_inactive=include_inactive)

    # -- reads ----------------------------------------------------------------------------------

    async def get_product(self, product_id: str) -> ProductView:
        product = await self.repository.get_product(product_id) if _is_uuid(product_id) else None
        if product is None:
            raise NotFoundError(f"No product with id {product_id}.")
        return product

    async def get_product_by_sku(self, sku: str) -> ProductView:
        product = await self.repository.get_product_by_sku(sku)
        if product is None:
            raise NotFoundError(f"No product with sku {sku}.")
        return product

    async def list_products(
        self, query: ProductQuery, *, limit: int, cursor: str | None, cursors: Cursors
    ) -> ProductPage:
        sort = query.effective_sort()
        if sort is SortOrder.relevance and not query.words:
            raise UnprocessableError("Sorting by relevance needs a search query (q).", field="sort")
        if query.min_price is not None and query.max_price is not None and query.min_price > query.max_price:
            raise UnprocessableError("min_price must not exceed max_price.", field="min_price")
        fingerprint = query.fingerprint(self.include_inactive)
        after, offset = _position(cursor, cursors, sort, fingerprint)

        category_id: str | None = None
        if query.category is not None:
            category = await self.repository.get_category_by_slug(query.category)
            if category is None:
                return ProductPage(items=[], next_cursor=None)
            category_id = category.id

        filters = ProductFilters(
            words=query.words,
            category_id=category_id,
            min_price=query.min_price,
            max_price=query.max_price,
            tags=query.tags,
            currency=query.currency,
            active=query.active,
        )
        # one extra row says whether another page exists, so the last page has next_cursor null
        rows = await self.repository.list_products(filters, sort=sort, limit=limit + 1, after=after, offset=offset)
        if sort is not SortOrder.relevance:
            items, next_cursor = cursors.page(
                rows, limit, lambda row: _keyset(self.repository.keyset_of(row, sort)), of=PRODUCTS, f=fingerprint
            )
            return ProductPage(items=items, next_cursor=next_cursor)
        next_offset = offset + limit
        more = len(rows) > limit and next_offset < MAX_SEARCH_OFFSET
        next_cursor = cursors.encode((next_offset,), of=PRODUCTS, f=fingerprint) if more else None
        return ProductPage(items=rows[:limit], next_cursor=next_cursor)

    async def list_categories(
        self, *, limit: int, cursor: str | None, cursors: Cursors
    ) -> tuple[list[Category], str | None]:
        after = cursors.decode(cursor, tuple[str], of=CATEGORIES)
        rows = await self.repository.list_categories(limit=limit + 1, after_slug=after[0] if after else None)
        return cursors.page(rows, limit, lambda category: (category.slug,), of=CATEGORIES)

    async def get_category(self, slug: str) -> Category:
        category = await self.repository.get_category_by_slug(slug)
        if category is None:
            raise NotFoundError(f"No category with slug {slug}.")
        return category

    # -- product writes -------------------------------------------------------------------------

    async def create_product(self, data: ProductCreate) -> Product:
        category = await self._category_for(data.category)
        if await self.repository.sku_exists(data.sku):
            raise ConflictError(f"A product with sku {data.sku} already exists.", field="sku")
        now = utcnow()
        product = Product(
            id=str(uuid.uuid4()),
            sku=data.sku,
            name=data.name,
            description=data.description,
            price_amount=data.price.amount,
            price_currency=data.price.currency,
            category_id=category.id,
            tags_text=" ".join(data.tags),
            images=list(data.images),
            active=data.active,
            created_at=now,
            updated_at=now,
        )
        product.category = category
        try:
            await self.repository.add_product(product)
        except IntegrityError:
            # a concurrent create of the same sku got there first
            raise ConflictError(f"A product with sku {data.sku} already exists.", field="sku") from None
        await self._emit(ProductCreated(product=product_contract(product)), product)
        return product

    async def load_for_update(self, product_id: str) -> Product:
        product = await self.repository.get_product_for_update(product_id) if _is_uuid(product_id) else None
        if product is None:
            raise NotFoundError(f"No product with id {product_id}.")
        return product

    async def update_product(self, product: Product, data: ProductUpdate) -> Product:
        """Apply the fields of ``data`` that differ; publishes ``updated`` only when something did."""
        changes = data.changes()
        changed: list[str] = []
        previous_sku = product.sku
        if "sku" in changes and changes["sku"] != product.sku:
            if await self.repository.sku_exists(changes["sku"]):
                raise ConflictError(f"A product with sku {changes['sku']} already exists.", field="sku")
            product.sku = changes["sku"]
            changed.append("sku")
        if "category" in changes and changes["category"] != product.category.slug:
            category = await self._category_for(changes["category"])
            product.category_id = category.id
            product.category = category
            changed.append("category")
        changed += _apply_plain_changes(product, changes, data.price)
        if not changed:
            return product
        product.updated_at = utcnow()
        await self._flush_product(product, sku=changes.get("sku"))
        if "tags" in changed:
            await self.repository.replace_tags(product)
        updated = ProductUpdated(
            product=product_contract(product),
            changed=sorted(changed),
            previous_sku=previous_sku if "sku" in changed else None,
        )
        await self._emit(updated, product)
        return product

    async def delete_product(self, product: Product) -> bool:
        """Soft delete: the product stops being visible and sold; returns False if it already was."""
        if not product.active:
            return False
        product.active = False
        product.updated_at = utcnow()
        await self._flush_product(product)
        await self._emit(ProductDeleted(id=product.id, sku=product.sku, version=product.version), product)
        return True

    async def _flush_product(self, product: Product, *, sku: str | None = None) -> None:
        try:
            await self.repository.flush()
        except StaleDataError:
            raise ConcurrentUpdateError(
                "The product was changed by someone else meanwhile; fetch it again and retry."
            ) from None
        except IntegrityError:
            raise ConflictError(f"A product with sku {sku} already exists.", field="sku") from None

    async def _category_for(self, slug: str) -> Category:
        category = await self.repository.get_category_by_slug(slug)
        if category is None:
            raise UnprocessableError(f"No category with slug {slug}.", field="category")
        return category

    async def _emit(self, event: ProductCreated | ProductUpdated | ProductDeleted, product: Product) -> None:
        await self.events.add(self.session, event, subject=product.id, key=product.id)

    # -- category writes ------------------------------------------------------------------------

    async def create_category(self, data: CategoryCreate) -> Category:
        if await self.repository.get_category_by_slug(data.slug) is not None:
            raise ConflictError(f"A category with slug {data.slug} already exists.", field="slug")
        now = utcnow()
        category = Category(
            id=str(uuid.uuid4()),
            slug=data.slug,
            name=data.name,
            description=data.description,
            created_at=now,
            updated_at=now,
        )
        try:
            await self.repository.add_category(category)
        except IntegrityError:
            raise ConflictError(f"A category with slug {data.slug} already exists.", field="slug") from None
        return category

    async def update_category(self, slug: str, data: CategoryUpdate) -> Category:
        category = await self.get_category(slug)
        changes = {k: v for k, v in data.changes().items() if getattr(category, k) != v}
        if not changes:
            return category
        if "slug" in changes and await self.repository.get_category_by_slug(changes["slug"]) is not None:
            raise ConflictError(f"A category with slug {changes['slug']} already exists.", field="slug")
        for name, value in changes.items():
            setattr(category, name, value)
        category.updated_at = utcnow()
        try:
            await self.repository.flush()
        except IntegrityError:
            raise ConflictError("A category with that slug already exists.", field="slug") from None
        return category


def _position(cursor: str | None, cursors: Cursors, sort: SortOrder, fingerprint: str) -> tuple[Keyset | None, int]:
    """Where the page starts: after a keyset, or at an offset into a relevance ranking."""
    if sort is SortOrder.relevance:
        position = cursors.decode(cursor, tuple[int], of=PRODUCTS, f=fingerprint)
        offset = position[0] if position else 0
        if not 0 <= offset <= MAX_SEARCH_OFFSET:
            raise UnprocessableError("The cursor is invalid; start again without it.", field=CURSOR_FIELD)
        return None, offset
    key = cursors.decode(cursor, _KEYS[sort], of=PRODUCTS, f=fingerprint)
    return (Keyset(value=key[0], id=key[1]) if key else None), 0


def _keyset(keyset: Keyset) -> tuple[Any, str]:
    return keyset.value, keyset.id


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _apply_plain_changes(product: Product, changes: dict[str, Any], price: MoneyIn | None) -> list[str]:
    """Apply the changes that need no lookup (all but sku and category); returns the names that differed."""
    changed: list[str] = []
    for name in ("name", "description", "active"):
        if name in changes and changes[name] != getattr(product, name):
            setattr(product, name, changes[name])
            changed.append(name)
    if price is not None and (price.amount, price.currency) != (product.price_amount, product.price_currency):
        product.price_amount = price.amount
        product.price_currency = price.currency
        changed.append("price")
    if "tags" in changes and changes["tags"] != product.tags:
        product.tags_text = " ".join(changes["tags"])
        changed.append("tags")
    if "images" in changes and list(changes["images"]) != list(product.images):
        product.images = list(changes["images"])
        changed.append("images")
    return changed
