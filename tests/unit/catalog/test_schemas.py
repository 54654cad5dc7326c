"""Request validation: what a product or category write may contain."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agora.services.catalog.schemas import CategoryCreate, ProductCreate, ProductUpdate


def product(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": "TST-0001",
        "name": "Test product",
        "description": "Fine.",
        "price": {"amount": 1999, "currency": "USD"},
        "category": "footwear",
        "tags": ["b-tag", "a-tag", "b-tag"],
        "images": ["https://cdn.example.com/a.jpg", "/api/media/images/abc", "media_123"],
    }
    body.update(overrides)
    return body


def error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(part) for part in error["loc"]) for error in exc.errors()}


def test_a_valid_product_is_accepted_and_tags_become_a_sorted_set() -> None:
    created = ProductCreate.model_validate_json(ProductCreate.model_validate(product()).model_dump_json())
    assert created.tags == ["a-tag", "b-tag"]
    assert created.active is True


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sku": "lower-case"}, "sku"),
        ({"sku": "-LEADING"}, "sku"),
        ({"sku": "HAS SPACE"}, "sku"),
        ({"sku": "A" * 65}, "sku"),
        ({"sku": ""}, "sku"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "nul\x00byte"}, "name"),
        ({"name": "line\nbreak"}, "name"),
        ({"name": "lone \ud800 surrogate"}, "name"),
        ({"description": "d" * 5001}, "description"),
        ({"description": "bell\x07"}, "description"),
        ({"price": {"amount": 0, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": -100, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": 1_000_000_001, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": 10**30, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": "1999", "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": 19.99, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": True, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": 100, "currency": "usd"}}, "price.currency"),
        ({"price": {"amount": 100, "currency": "XXX"}}, "price.currency"),
        ({"price": {"amount": 100, "currency": "US"}}, "price.currency"),
        ({"price": {"amount": 100}}, "price.currency"),
        ({"price": {"amount": 100, "currency": "USD", "extra": 1}}, "price.extra"),
        ({"tags": ["UPPER"]}, "tags.0"),
        ({"tags": ["has space"]}, "tags.0"),
        ({"tags": ["x" * 41]}, "tags.0"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": "not-a-list"}, "tags"),
        ({"images": ["javascript:alert(1)"]}, "images.0"),
        ({"images": ["https://x.example/a b.jpg"]}, "images.0"),
        ({"images": [f"img{i}" for i in range(11)]}, "images"),
        ({"category": "Not A Slug"}, "category"),
        ({"active": "yes"}, "active"),
        ({"active": 1}, "active"),
        ({"unknown": "field"}, "unknown"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ],
)
def test_invalid_products_name_the_field(overrides: dict[str, Any], field: str) -> None:
    # FastAPI parses JSON with the standard library, then validates the Python value: do the same
    with pytest.raises(ValidationError) as raised:
        ProductCreate.model_validate(product(**overrides))
    assert field in error_fields(raised.value)


def _json(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body)


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE products; --",
        "Robert'); DELETE FROM categories WHERE ('1'='1",
        "<script>alert('x')</script>",
        '<img src=x onerror="alert(1)">',
        "{{7*7}} ${7*7} %s %n",
        "emoji 👟 and accents: déjà vu",
    ],
)
def test_sql_and_script_looking_text_is_data(text: str) -> None:
    created = ProductCreate.model_validate_json(_json(product(name=text, description=text)))
    assert created.name == text and created.description == text


def test_patch_takes_only_sent_fields_and_refuses_null() -> None:
    update = ProductUpdate.model_validate_json('{"name": "New name"}')
    assert update.changes() == {"name": "New name"}
    assert ProductUpdate.model_validate_json("{}").changes() == {}
    for field in ("name", "price", "tags", "active", "sku", "category", "description", "images"):
        with pytest.raises(ValidationError) as raised:
            ProductUpdate.model_validate_json(f'{{"{field}": null}}')
        assert field in error_fields(raised.value)
    with pytest.raises(ValidationError):
        ProductUpdate.model_validate_json('{"version": 3}')


def test_category_validation() -> None:
    assert CategoryCreate.model_validate_json('{"slug": "garden-tools", "name": "Garden tools"}').description == ""
    for body in (
        '{"slug": "Garden", "name": "x"}',
        '{"slug": "garden--tools", "name": "x"}',
        '{"slug": "garden", "name": ""}',
        '{"slug": "garden", "name": "x", "extra": true}',
    ):
        with pytest.raises(ValidationError):
            CategoryCreate.model_validate_json(body)
