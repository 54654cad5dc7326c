"""Cursor pagination: opaque, HMAC-signed cursors and the ``{"items", "next_cursor"}`` shape.

The cursor carries the keyset position (e.g. the last row's sort key and id). It is signed so
a client cannot forge positions (which would turn a cursor into an arbitrary filter) and so a
tampered cursor is a clear 422 naming ``query.cursor`` (:class:`Cursors`) rather than a confusing
empty page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, TypeAdapter, ValidationError

from agora.platform.http.problems import PARAMETER_STATUSES, BadRequest, ProblemError, Unprocessable

T = TypeVar("T")
K = TypeVar("K")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size (1-100).")]
Cursor = Annotated[
    str | None,
    # a modified, foreign or malformed cursor is a 422 naming query.cursor (Cursors.decode)
    Query(max_length=512, description="Opaque cursor from next_cursor.", json_schema_extra={PARAMETER_STATUSES: [422]}),
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


#: What a keyset cursor may hold besides its key: the list it belongs to and the filter it was made for.
Scope = str | int | bool | None

CURSOR_FIELD = "query.cursor"


_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def _adapter(shape: type[Any]) -> TypeAdapter[Any]:
    """One validator per key shape (a handful per service), built on first use."""
    adapter = _ADAPTERS.get(shape)
    if adapter is None:
        adapter = _ADAPTERS[shape] = TypeAdapter(shape)
    return adapter


class Cursors:
    """Keyset cursors for one service's lists: ``decode`` the request's, ``page`` the next one.

    A cursor names its list (``of``) and the filter it was made for (``scope``), so a cursor from
    another list or filter is refused; its key is validated against ``shape`` (e.g.
    ``tuple[datetime, str]``). Every refusal is a 422 naming ``query.cursor``.
    """

    def __init__(self, codec: CursorCodec) -> None:
        self.codec = codec

    def encode(self, key: Sequence[Any], *, of: str, **scope: Scope) -> str:
        position: dict[str, Any] = {"l": of, "k": list(key)}
        if scope:
            position["s"] = scope
        return self.codec.encode(position)

    def decode(self, raw: str | None, shape: type[K], *, of: str, **scope: Scope) -> K | None:
        """The key ``raw`` carries, as ``shape``; None without a cursor (the first page)."""
        if raw is None:
            return None
        try:
            position = self.codec.decode(raw)
        except ProblemError:
            raise _refused("The cursor is invalid or was modified; start again without it.") from None
        if position.get("l") != of or position.get("s", {}) != scope:
            raise _refused("This cursor belongs to a different list; start again without it.")
        try:
            key: K = _adapter(shape).validate_python(position.get("k"))
        except ValidationError:
            raise _refused("The cursor is invalid; start again without it.") from None
        return key

    def page(
        self, rows: Sequence[T], limit: int, key: Callable[[T], Sequence[Any]], *, of: str, **scope: Scope
    ) -> tuple[list[T], str | None]:
        """The first ``limit`` rows (fetch ``limit + 1``) and the cursor of the next page, if any."""
        items = list(rows[:limit])
        if len(rows) <= limit or not items:
            return items, None
        return items, self.encode(key(items[-1]), of=of, **scope)


def _refused(detail: str) -> Unprocessable:
    return Unprocessable(detail, field=CURSOR_FIELD)
