"""``json_response``: a JSON body encoded once, by orjson, without FastAPI's response validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson
from starlette.responses import Response


def json_response(payload: object, *, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``payload`` as ``application/json`` (orjson: datetimes as RFC 3339, no NaN)."""
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json", headers=headers)


class KeysetPage(Protocol):
    @property
    def items(self) -> Sequence[Any]: ...
    @property
    def next_cursor(self) -> str | None: ...


def page_response(page: KeysetPage, document: Callable[[Any], object] | None = None) -> Response:
    """A keyset page as ``{"items", "next_cursor"}``, each item through ``document`` when given."""
    items = page.items if document is None else [document(item) for item in page.items]
    return json_response({"items": items, "next_cursor": page.next_cursor})


__all__ = ["json_response", "page_response"]
