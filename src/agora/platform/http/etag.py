"""Conditional GET: strong ETags over the response body, ``If-None-Match`` answered with 304."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


@dataclass(frozen=True, slots=True)
class EncodedJson:
    """A JSON body encoded once, with its ETag (what a response cache keeps)."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, payload: Any) -> EncodedJson:
        body = orjson.dumps(payload)
        return cls(body, etag_for(body))


def _matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # weak comparison, as RFC 9110 asks for If-None-Match
    candidates = (part.strip().removeprefix("W/") for part in header.split(","))
    return etag in candidates


def conditional_response(
    request: Request,
    encoded: EncodedJson,
    *,
    status_code: int = 200,
    cache_control: str = "no-cache",
    headers: dict[str, str] | None = None,
) -> Response:
    """The encoded JSON with its ETag; 304 without a body when the client already has it."""
    response_headers = {"ETag": encoded.etag, "Cache-Control": cache_control, **(headers or {})}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, encoded.etag):
        return Response(status_code=304, headers=response_headers)
    return Response(encoded.body, status_code=status_code, media_type="application/json", headers=response_headers)


def conditional_json(
    request: Request,
    payload: Any,
    *,
    status_code: int = 200,
    cache_control: str = "no-cache",
    headers: dict[str, str] | None = None,
) -> Response:
    return conditional_response(
        request, EncodedJson.of(payload), status_code=status_code, cache_control=cache_control, headers=headers
    )
