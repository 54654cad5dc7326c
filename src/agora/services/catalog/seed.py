"""The demo catalog: 240 products in 10 categories, built from :mod:`.seed_data` and seeded once.

Deterministic: :func:`build_catalog` combines the building blocks by position (no randomness),
ids are uuid5 of the sku/slug and timestamps count from a fixed epoch, so every installation
has the same products under the same ids (links in docs and load tests keep working).

Idempotent: rows are keyed by sku (products) and slug (categories); :func:`seed_catalog` inserts
only what is missing and never touches an existing row, so re-running inserts nothing and an
admin's edits to a seeded product survive a restart.

Events: each inserted product publishes ``catalog.product.created`` through the outbox, in the
same transaction, exactly as an admin-created product does. Consumers that learn the catalog
from events (recommendations, ads, search) therefore see the demo data too, in every mode; a
re-run inserts nothing and so publishes nothing.

Images: each product names one media id, :func:`agora.contracts.media.demo_image_id` of its id;
the media service draws that picture when ``catalog.product.created`` (``demo: true``) reaches
it. Products seeded before media existed keep their placeholder paths, which are still served.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.catalog import ProductCreated
from agora.contracts.media import demo_image_id
from agora.platform.db import unit_of_work
from agora.platform.messaging import Outbox
from agora.platform.service import ServiceContext
from agora.services.catalog.models import Category, Product
from agora.services.catalog.repository import CatalogRepository
from agora.services.catalog.seed_data import CATEGORIES, SEED_EPOCH_ISO
from agora.services.catalog.service import product_contract

#: Namespace of the seeded ids (uuid5): stable across installations.
SEED_NAMESPACE = uuid.UUID("6f1c7f0e-2b8a-5d4e-9a63-0c2f4e8b7a15")
VARIANTS_PER_KIND = 6
CURRENCY = "USD"

_CLOSINGS = (
    "Backed by a two-year warranty.",
    "Ships in plastic-free packaging.",
    "Designed to be repaired, not replaced.",
    "A customer favourite since its first season.",
    "Made in small batches by a family-run workshop.",
    "Free returns within 30 days.",
)


@dataclass(frozen=True)
class SeedCategory:
    id: str
    slug: str
    name: str
    description: str


@dataclass(frozen=True)
class SeedProduct:
    id: str
    sku: str
    name: str
    description: str
    price_amount: int
    currency: str
    category_slug: str
    tags: tuple[str, ...]
    images: tuple[str, ...]
    created_at: datetime


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def seed_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, f"{kind}:{key}"))


def build_catalog() -> tuple[list[SeedCategory], list[SeedProduct]]:
    """The demo categories and products, identical on every call."""
    epoch = datetime.fromisoformat(SEED_EPOCH_ISO)
    categories: list[SeedCategory] = []
    products: list[SeedProduct] = []
    for c, block in enumerate(CATEGORIES):
        categories.append(SeedCategory(seed_id("category", block.slug), block.slug, block.name, block.description))
        for k, kind in enumerate(block.kinds):
            for v in range(VARIANTS_PER_KIND):
                brand = block.brands[(v + k) % len(block.brands)]
                # v + 2k over six adjectives: the six variants of a kind never share a name
                adjective = block.adjectives[(v + 2 * k) % len(block.adjectives)]
                colour = block.colours[(5 * v + k) % len(block.colours)]
                material = kind.materials[(v + c) % len(kind.materials)]
                features = [kind.features[(v + i) % len(kind.features)] for i in range(len(kind.features))]
                low, high = kind.price
                step = (7 * v + 3 * k + c) % VARIANTS_PER_KIND
                dollars = low + (high - low) * step // (VARIANTS_PER_KIND - 1)
                sku = f"{block.code}-{kind.code}-{v + 1:03d}"
                tags = set(kind.tags) | {_slug(brand)}
                if block.slug != "books":
                    tags.add(_slug(colour))
                if v == 0:
                    tags.add("bestseller")
                if v == VARIANTS_PER_KIND - 1:
                    tags.add("new-arrival")
                description = (
                    f"The {brand} {adjective} {kind.noun.lower()} is made from {material}, "
                    f"with {features[0]}, {features[1]} and {features[2]}. "
                    f"{'Edition' if block.slug == 'books' else 'Colour'}: {colour}. "
                    f"{_CLOSINGS[(v + k + c) % len(_CLOSINGS)]}"
                )
                index = len(products)
                product_id = seed_id("product", sku)
                products.append(
                    SeedProduct(
                        id=product_id,
                        sku=sku,
                        name=f"{brand} {adjective} {kind.noun}",
                        description=description,
                        price_amount=dollars * 100 - 1,
                        currency=CURRENCY,
                        category_slug=block.slug,
                        tags=tuple(sorted(tags)),
                        # drawn by the media service when it sees the product's created event
                        images=(demo_image_id(product_id),),
                        created_at=epoch + timedelta(minutes=index),
                    )
                )
    return categories, products


async def seed_catalog(session: AsyncSession, events: Outbox) -> int:
    """Insert the missing demo rows in ``session`` (the caller commits); returns how many (categories + products)."""
    seed_categories, seed_products = build_catalog()
    repository = CatalogRepository(session, include_inactive=True)

    categories = await repository.all_categories()
    existing = {category.slug: category for category in categories}
    taken_ids = {category.id for category in categories}
    inserted = 0
    for item in seed_categories:
        if item.slug in existing or item.id in taken_ids:
            # kept as the admin left it (an admin may have renamed a seeded category's slug)
            continue
        new_category = Category(
            id=item.id,
            slug=item.slug,
            name=item.name,
            description=item.description,
            created_at=datetime.fromisoformat(SEED_EPOCH_ISO),
            updated_at=datetime.fromisoformat(SEED_EPOCH_ISO),
        )
        await repository.add_category(new_category)
        existing[item.slug] = new_category
        inserted += 1

    by_id = {category.id: category for category in existing.values()}
    present = await repository.existing_keys([item.sku for item in seed_products], [item.id for item in seed_products])
    new_products: list[Product] = []
    for seeded in seed_products:
        if seeded.sku in present or seeded.id in present:
            # keyed by sku; the id check covers a seeded product whose sku an admin changed
            continue
        category = existing.get(seeded.category_slug) or by_id.get(seed_id("category", seeded.category_slug))
        if category is None:
            continue
        product = Product(
            id=seeded.id,
            sku=seeded.sku,
            name=seeded.name,
            description=seeded.description,
            price_amount=seeded.price_amount,
            price_currency=seeded.currency,
            category_id=category.id,
            tags_text=" ".join(seeded.tags),
            images=list(seeded.images),
            active=True,
            created_at=seeded.created_at,
            updated_at=seeded.created_at,
        )
        product.category = category
        new_products.append(product)
    if new_products:
        await repository.add_products(new_products)
        for product in new_products:
            created = ProductCreated(product=product_contract(product), demo=True)
            await events.add(session, created, subject=product.id, key=product.id)
    return inserted + len(new_products)


async def seed(context: ServiceContext) -> int:
    """The spec's seed hook: one transaction, committed only if everything was inserted."""
    async with unit_of_work(context) as session:
        return await seed_catalog(session, context.outbox)
