"""What analytics accepts from clients: the storefront's behaviour events.

``POST /api/analytics/events`` takes one of these bodies (anonymous visitors allowed). Analytics
publishes no events of its own; it consumes ``orders.order.*`` and ``cart.item.added``.

Compatibility rule: fields are only ever added, with defaults; a new kind of event is a new
``type`` value.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Event kinds the storefront may report.
PRODUCT_VIEW = "product_view"

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class BehaviourEvent(BaseModel):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``{"type": "product_view", "product_id": "<uuid>"}``: a visitor opened a product page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["product_view"]
    product_id: str = Field(min_length=36, max_length=36, pattern=UUID_PATTERN)


__all__ = ["PRODUCT_VIEW", "UUID_PATTERN", "BehaviourEvent"]
