"""Request and response models of the ads API (never the table).

Requests are strict like the catalog's: unknown fields are refused, JSON types are not coerced,
free text refuses control characters. A link (``url``, ``image``) is a site-relative path
(``/catalog/...``, never ``//host``) or an ``https://`` URL: ``javascript:``, ``data:`` and plain
``http://`` are refused, so an ad cannot run script or downgrade the page that shows it.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from agora.contracts.ads import Ad, ServedAd, ServedAds
from agora.platform.validation import (
    IsoMoment,
    OneLine,
    StrictRequest,
    TextBlock,
    omittable_not_null_fields,
    refuse_null,
)
from agora.services.ads.models import (
    ID_LENGTH,
    KEYWORD_LENGTH,
    MAX_CATEGORIES,
    MAX_KEYWORDS,
    SLUG_LENGTH,
    TEXT_LENGTH,
    TITLE_LENGTH,
    URL_LENGTH,
)

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
#: A site-relative path (one leading slash, never ``//`` or ``/\\``) or an https URL; no blanks or backslashes.
LINK_PATTERN = r"^(?:/|/[^/\\\s][^\\\s]*|https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][^\\\s]*)?)$"
MAX_WEIGHT = 1000

Slug = Annotated[str, StringConstraints(min_length=1, max_length=SLUG_LENGTH, pattern=SLUG_PATTERN)]
Keyword = Annotated[str, StringConstraints(min_length=1, max_length=KEYWORD_LENGTH, pattern=SLUG_PATTERN)]
Link = Annotated[str, StringConstraints(min_length=1, max_length=URL_LENGTH, pattern=LINK_PATTERN)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_LENGTH), OneLine]
Text = Annotated[str, StringConstraints(max_length=TEXT_LENGTH), TextBlock]
Categories = Annotated[list[Slug], Field(max_length=MAX_CATEGORIES)]
Keywords = Annotated[list[Keyword], Field(max_length=MAX_KEYWORDS)]
Weight = Annotated[int, Field(ge=0, le=MAX_WEIGHT)]
#: ISO 8601 with an offset; not strict, because FastAPI validates JSON already parsed into strings
Moment = Annotated[AwareDatetime, Field(strict=False), IsoMoment, AfterValidator(lambda value: value.astimezone(UTC))]
AdId = Annotated[str, StringConstraints(max_length=ID_LENGTH)]


def as_set(values: list[str]) -> list[str]:
    """Categories and keywords are sets: duplicates collapse and they are kept sorted."""
    return sorted(set(values))


class _Request(StrictRequest):
    pass


class AdCreate(_Request):
    title: Title
    text: Text = ""
    url: Link = Field(description="A site-relative path (/catalog/...) or an https:// URL.")
    image: Link | None = None
    categories: Categories = Field(default_factory=list, description="Category slugs; none makes a generic ad.")
    keywords: Keywords = Field(default_factory=list)
    active: bool = True
    weight: Weight = Field(default=100, description="0-1000; breaks ties between equally relevant ads.")
    starts_at: Moment | None = None
    ends_at: Moment | None = None

    @field_validator("categories", "keywords")
    @classmethod
    def _as_set(cls, values: list[str]) -> list[str]:
        return as_set(values)


#: the fields of :class:`AdUpdate` that may be left out but not sent as null
_NOT_NULL = ("title", "text", "url", "categories", "keywords", "active", "weight", "version")


class AdUpdate(_Request):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """A partial update: only the fields sent change. ``image``, ``starts_at`` and ``ends_at`` may
    be ``null`` (removed); ``version``, when sent, must be the ad's current version (else 412)."""

    # the other fields are None on the model when left out, refused when sent as null

    model_config = ConfigDict(json_schema_extra=omittable_not_null_fields(*_NOT_NULL))

    title: Title | None = None
    text: Text | None = None
    url: Link | None = None
    image: Link | None = None
    categories: Categories | None = None
    keywords: Keywords | None = None
    active: bool | None = None
    weight: Weight | None = None
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    version: int | None = Field(default=None, ge=1)

    @field_validator("categories", "keywords")
    @classmethod
    def _as_set(cls, values: list[str]) -> list[str]:
        return as_set(values)

    _not_null = field_validator(*_NOT_NULL, mode="before")(refuse_null)

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set if name != "version"}


# -- responses (documentation: the endpoints render JSON directly, see endpoints.py) ---------------

AdOut = Ad
ServedAdOut = ServedAd
ServedAdsOut = ServedAds


class AdPage(BaseModel):
    items: list[AdOut]
    next_cursor: str | None = None
