"""Request and response models of the media API (documentation and validation; never the tables)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agora.contracts.media import MEDIA_ID_PATTERN, ImageRefs
from agora.platform.validation import StrictRequest

Purpose = Literal["product", "avatar"]
MediaId = Annotated[str, StringConstraints(pattern=MEDIA_ID_PATTERN)]


class Thumbnails(BaseModel):
    small: str
    large: str


class ImageOut(BaseModel):
    id: str
    purpose: Purpose
    owner_id: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    created_at: str
    url: str
    thumbnails: Thumbnails


class ImagePage(BaseModel):
    items: list[ImageOut]
    next_cursor: str | None


class LookupIn(StrictRequest):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    ids: list[MediaId] = Field(min_length=1, max_length=50)
    claim: bool = False


#: ``POST /api/media/lookup`` answers the contract's model.
LookupOut = ImageRefs
