"""Request and response models of the catalog API (never the tables).

Requests are strict: unknown fields are refused, JSON types are not coerced (``"10"`` is not an
amount, ``1`` is not ``true``), and every string is checked for what databases refuse or
mangle (NUL, other control characters, lone surrogates) so bad input is a 422 naming the
field, never a 500 from the driver. Everything else a user types, including text that looks
like SQL or HTML, is data: stored and returned exactly as sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from agora.contracts.catalog import CategoryRef, CurrencyCode, Money, Product
from agora.platform.validation import OneLine, StrictRequest, TextBlock, omittable_not_null, refuse_null
from agora.services.catalog.models import (
    CATEGORY_NAME_LENGTH,
    CATEGORY_SLUG_LENGTH,
    MAX_TAGS,
    NAME_LENGTH,
    SKU_LENGTH,
    TAG_LENGTH,
)

MAX_PRICE = 1_000_000_000
DESCRIPTION_LENGTH = 5000
CATEGORY_DESCRIPTION_LENGTH = 1000
MAX_IMAGES = 10
IMAGE_REF_LENGTH = 500

SKU_PATTERN = r"^[A-Z0-9](?:[A-Z0-9-]{0,62}[A-Z0-9])?$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
#: An absolute http(s) URL, a site-relative path, or a media id; never ``javascript:`` and friends.
IMAGE_PATTERN = r"^(?:https?://[^\s]+|/[^\s]*|[A-Za-z0-9][A-Za-z0-9_.-]*)$"


Sku = Annotated[str, StringConstraints(min_length=1, max_length=SKU_LENGTH, pattern=SKU_PATTERN)]
ProductName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_LENGTH), OneLine]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_LENGTH), TextBlock]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=CATEGORY_SLUG_LENGTH, pattern=SLUG_PATTERN)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=TAG_LENGTH, pattern=SLUG_PATTERN)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
ImageRef = Annotated[str, StringConstraints(min_length=1, max_length=IMAGE_REF_LENGTH, pattern=IMAGE_PATTERN)]
Images = Annotated[list[ImageRef], Field(max_length=MAX_IMAGES)]
CategoryName = Annotated[str, StringConstraints(min_length=1, max_length=CATEGORY_NAME_LENGTH), OneLine]
CategoryDescription = Annotated[str, StringConstraints(max_length=CATEGORY_DESCRIPTION_LENGTH), TextBlock]


def normalize_tags(tags: list[str]) -> list[str]:
    """Tags are a set: duplicates collapse and they are kept sorted."""
    return sorted(set(tags))


class _Request(StrictRequest):
    pass


class MoneyIn(_Request):
    amount: int = Field(gt=0, le=MAX_PRICE, description="Minor units (cents); 1 to 1,000,000,000.")
    currency: CurrencyCode


class ProductCreate(_Request):
    sku: Sku
    name: ProductName
    description: Description = ""
    price: MoneyIn
    category: Slug = Field(description="The category's slug.")
    tags: Tags = Field(default_factory=list)
    images: Images = Field(default_factory=list)
    active: bool = True

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalize_tags(value)


class ProductUpdate(_Request):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """A partial update: only the fields sent change; ``null`` is refused (no field is nullable)."""

    # a field left out is None on the model; the document shows none as nullable
    model_config = ConfigDict(json_schema_extra=omittable_not_null)

    sku: Sku | None = None
    name: ProductName | None = None
    description: Description | None = None
    price: MoneyIn | None = None
    category: Slug | None = None
    tags: Tags | None = None
    images: Images | None = None
    active: bool | None = None

    _not_null = field_validator("*", mode="before")(refuse_null)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalize_tags(value)

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class CategoryCreate(_Request):
    slug: Slug
    name: CategoryName
    description: CategoryDescription = ""


class CategoryUpdate(_Request):
    # like ProductUpdate: fields left out keep their value, null is refused
    model_config = ConfigDict(json_schema_extra=omittable_not_null)

    slug: Slug | None = None
    name: CategoryName | None = None
    description: CategoryDescription | None = None

    _not_null = field_validator("*", mode="before")(refuse_null)

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


# -- responses (documentation: the endpoints render JSON directly, see endpoints.py) ---------------

ProductOut = Product
MoneyOut = Money
CategoryRefOut = CategoryRef


class CategoryOut(BaseModel):
    id: str
    slug: str
    name: str
    description: str


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None = None


class CategoryPage(BaseModel):
    items: list[CategoryOut]
    next_cursor: str | None = None
