"""The demo catalog: big enough, realistic, valid, and the same on every run."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter

from agora.services.catalog.schemas import ProductCreate
from agora.services.catalog.seed import build_catalog, seed_id

DIGEST_SCRIPT = """
import hashlib
from agora.services.catalog.seed import build_catalog
categories, products = build_catalog()
print(hashlib.sha256(repr((categories, products)).encode()).hexdigest())
"""


def test_at_least_200_products_in_at_least_8_categories() -> None:
    categories, products = build_catalog()
    assert len(categories) >= 8
    assert len(products) >= 200
    per_category = Counter(product.category_slug for product in products)
    assert set(per_category) == {category.slug for category in categories}
    assert min(per_category.values()) >= 10


def test_keys_and_names_are_unique() -> None:
    categories, products = build_catalog()
    for attribute in ("sku", "id", "name"):
        values = [getattr(product, attribute) for product in products]
        assert len(set(values)) == len(values), attribute
    assert len({category.slug for category in categories}) == len(categories)
    assert len({product.created_at for product in products}) == len(products)


def test_every_seeded_product_passes_the_api_validation() -> None:
    _, products = build_catalog()
    for product in products:
        ProductCreate.model_validate(
            {
                "sku": product.sku,
                "name": product.name,
                "description": product.description,
                "price": {"amount": product.price_amount, "currency": product.currency},
                "category": product.category_slug,
                "tags": list(product.tags),
                "images": list(product.images),
            },
            strict=False,
        )


def test_prices_are_realistic_per_kind() -> None:
    _, products = build_catalog()
    prices = {product.sku: product.price_amount for product in products}
    assert all(800 <= amount <= 50_000 for amount in prices.values())
    assert all(amount % 100 == 99 for amount in prices.values())
    # a tent costs more than a shampoo bar
    assert min(v for k, v in prices.items() if k.startswith("OUT-TNT")) > max(
        v for k, v in prices.items() if k.startswith("BTY-SHM")
    )
    assert len(set(prices.values())) > 60


def test_the_same_catalog_every_call_and_every_process() -> None:
    first = build_catalog()
    assert first == build_catalog()
    digests = set()
    for hash_seed in ("0", "1", "12345"):
        output = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout.strip()
        digests.add(output)
    assert digests == {hashlib.sha256(repr(first).encode()).hexdigest()}


def test_pinned_first_product() -> None:
    _, products = build_catalog()
    first = products[0]
    assert first.sku == "FTW-RUN-001"
    assert first.name == "Northwind Trailblazer Running Shoe"
    assert first.id == seed_id("product", "FTW-RUN-001")
    assert first.price_amount == 7899
    assert first.tags == ("bestseller", "breathable", "northwind", "running", "shoes", "slate")
