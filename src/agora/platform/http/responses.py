"""``json_response``: a JSON body encoded once, by orjson, without FastAPI's response validation."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.responses import Response


def json_response(payload: object, *, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``payload`` as ``application/json`` (orjson: datetimes as RFC 3339, no NaN)."""
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json", headers=headers)


__all__ = ["json_response"]
