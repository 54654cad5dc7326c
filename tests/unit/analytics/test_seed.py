"""The demo history is about the demo catalog's products (issue 17: its top products, "Organic
cotton tee" and the like, were in no catalog)."""

from __future__ import annotations

from agora.services.analytics.seed import PRODUCTS, product_id
from agora.services.catalog.seed import build_catalog


def test_every_demo_history_product_is_a_catalog_product_with_its_name_and_price() -> None:
    _, products = build_catalog()
    catalog = {product.id: product for product in products}
    for sku, name, price, _, _ in PRODUCTS:
        product = catalog.get(product_id(sku))
        assert product is not None, f"{sku} is not in the demo catalog"
        assert (product.sku, product.name, product.price_amount) == (sku, name, price)
