"""Cursor pagination: opaque, HMAC-signed cursors and the ``{"items", "next_cursor"}`` shape.

The cursor carries the keyset position (e.g. the last row's sort key and id). It is signed so
a client cannot forge positions (which would turn a cursor into an arbitrary filter) and so a
tampered cursor is a clear 400 rather than a confusing empty page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from agora.platform.http.problems import PARAMETER_STATUSES, BadRequest

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size (1-100).")]
Cursor = Annotated[
    str | None,
    # a modified cursor is a 400 (the OpenAPI document declares it on every list that takes one)
    Query(max_length=512, description="Opaque cursor from next_cursor.", json_schema_extra={PARAMETER_STATUSES: [400]}),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Encodes keyset positions as ``<payload>.<signature>`` (both base64url)."""

    _SIG_BYTES = 16

    def __init__(self, secret: bytes, *, purpose: str = "cursor") -> None:
        # a per-purpose key: a cursor minted for one list cannot be replayed against another
        self._key = hmac.new(secret, purpose.encode(), hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[: self._SIG_BYTES]

    def encode(self, position: dict[str, Any]) -> str:
        payload = orjson.dumps(position)
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, cursor: str) -> dict[str, Any]:
        try:
            payload_part, signature_part = cursor.split(".", 1)
            payload = _unb64(payload_part)
            signature = _unb64(signature_part)
        except (ValueError, TypeError):
            raise _invalid() from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise _invalid()
        try:
            position = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise _invalid() from None
        if not isinstance(position, dict):
            raise _invalid()
        return position


def _invalid() -> BadRequest:
    return BadRequest("The cursor is invalid or was modified; start again without it.", field="cursor")
