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

from agora.contracts.catalog import PRODUCT_CREATED, PRODUCT_DELETED, PRODUCT_UPDATED
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import (
    ConflictError,
    NotFoundError,
    ServiceError,
    UnprocessableError,
)
from agora.platform.http.pagination import CursorCodec
from agora.platform.messaging import EventWriter
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


class InvalidCursorError(CatalogError):
    status = 400
    field = "cursor"


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
        """Binds a cursor to the list it came from: reusing it with other filters is a 400."""
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
        events: EventWriter,
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
        self, query: ProductQuery, *, limit: int, cursor: str | None, codec: CursorCodec
    ) -> ProductPage:
        sort = query.effective_sort()
        if sort is SortOrder.relevance and not query.words:
            raise UnprocessableError("Sorting by relevance needs a search query (q).", field="sort")
        if query.min_price is not None and query.max_price is not None and query.min_price > query.max_price:
            raise UnprocessableError("min_price must not exceed max_price.", field="min_price")
        fingerprint = query.fingerprint(self.include_inactive)
        after, offset = self._position(cursor, codec, sort, fingerprint)

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
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            if sort is SortOrder.relevance:
                next_offset = offset + limit
                if next_offset < MAX_SEARCH_OFFSET:
                    next_cursor = codec.encode({"l": "products", "f": fingerprint, "o": next_offset})
            else:
                last = self.repository.keyset_of(items[-1], sort)
                value = last.value.isoformat() if isinstance(last.value, datetime) else last.value
                next_cursor = codec.encode({"l": "products", "f": fingerprint, "k": [value, last.id]})
        return ProductPage(items=items, next_cursor=next_cursor)

    @staticmethod
    def _position(
        cursor: str | None, codec: CursorCodec, sort: SortOrder, fingerprint: str
    ) -> tuple[Keyset | None, int]:
        if cursor is None:
            return None, 0
        position = codec.decode(cursor)  # raises the chassis' 400 naming "cursor" when tampered
        if position.get("l") != "products" or position.get("f") != fingerprint:
            raise InvalidCursorError("This cursor belongs to a different query; start again without it.")
        if sort is SortOrder.relevance:
            offset = position.get("o")
            if not isinstance(offset, int) or not 0 <= offset <= MAX_SEARCH_OFFSET:
                raise InvalidCursorError("The cursor is invalid.")
            return None, offset
        key = position.get("k")
        if not (isinstance(key, list) and len(key) == 2 and isinstance(key[1], str)):
            raise InvalidCursorError("The cursor is invalid.")
        value: Any = key[0]
        try:
            if sort is SortOrder.newest:
                value = datetime.fromisoformat(value)
            elif sort in (SortOrder.price_asc, SortOrder.price_desc):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise TypeError
            elif not isinstance(value, str):
                raise TypeError
        except (TypeError, ValueError):
            raise InvalidCursorError("The cursor is invalid.") from None
        return Keyset(value=value, id=key[1]), 0

    async def list_categories(
        self, *, limit: int, cursor: str | None, codec: CursorCodec
    ) -> tuple[list[Category], str | None]:
        after: str | None = None
        if cursor is not None:
            position = codec.decode(cursor)
            after = position.get("s")
            if position.get("l") != "categories" or not isinstance(after, str):
                raise InvalidCursorError("This cursor belongs to a different list; start again without it.")
        rows = await self.repository.list_categories(limit=limit + 1, after_slug=after)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = codec.encode({"l": "categories", "s": items[-1].slug})
        return items, next_cursor

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
        await self._emit(PRODUCT_CREATED, product, {"product": product_document(product)})
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
        payload: dict[str, Any] = {"product": product_document(product), "changed": sorted(changed)}
        if "sku" in changed:
            payload["previous_sku"] = previous_sku
        await self._emit(PRODUCT_UPDATED, product, payload)
        return product

    async def delete_product(self, product: Product) -> bool:
        """Soft delete: the product stops being visible and sold; returns False if it already was."""
        if not product.active:
            return False
        product.active = False
        product.updated_at = utcnow()
        await self._flush_product(product)
        await self._emit(
            PRODUCT_DELETED,
            product,
            {"id": product.id, "sku": product.sku, "version": product.version, "mode": "soft"},
        )
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

    async def _emit(self, event_type: str, product: Product, data: dict[str, Any]) -> None:
        await self.events.add(self.session, event_type, data, subject=product.id, key=product.id)

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
