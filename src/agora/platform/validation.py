"""Validators for free text that every service's request models share.

Text from clients is refused (a 422 naming the field), never silently cleaned, when it holds what
no legitimate input needs and some store or log mangles: control characters (PostgreSQL refuses
NUL; newlines in a name split log lines and headers) and unpaired surrogates (not encodable as
UTF-8). Use them as ``Annotated[str, Field(max_length=...), OneLine]``.

Each also puts its rule into the JSON schema as a ``pattern``, so the OpenAPI document does not
call valid what the validator refuses (schemathesis generates from the document).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
#: A block of text may hold newlines, carriage returns and tabs, nothing else below 0x20.
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def one_line(value: str) -> str:
    """One line of text, surrounding blanks removed; blank is refused."""
    if _LINE_FORBIDDEN.search(value):
        raise ValueError("must not contain control characters or unpaired surrogates")
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


def text_block(value: str) -> str:
    """Several lines of text (a description); may be empty."""
    if _TEXT_FORBIDDEN.search(value):
        raise ValueError("must not contain control characters or unpaired surrogates")
    return value


def optional_line(value: str) -> str:
    """One line of text, or empty."""
    return one_line(value) if value else value


@dataclass(frozen=True, slots=True)
class TextRule:
    """An after-validator whose rule the JSON schema states as a ``pattern`` (the same rule in
    JSON Schema's regex dialect: what the validator refuses, the document does not allow)."""

    check: Callable[[str], str]
    pattern: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


_NOT_CONTROL = r"[^\x00-\x1f\x7f]"
#: no control character, and something that is not a blank
ONE_LINE_PATTERN = rf"^{_NOT_CONTROL}*[^\x00-\x1f\x7f\s]{_NOT_CONTROL}*$"
TEXT_BLOCK_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

OneLine = TextRule(one_line, ONE_LINE_PATTERN)
OptionalLine = TextRule(optional_line, rf"^$|{ONE_LINE_PATTERN}")
TextBlock = TextRule(text_block, TEXT_BLOCK_PATTERN)


def _iso_text(shape: str, words: str) -> BeforeValidator:
    """A date or time as JSON carries it: ISO 8601 text of ``shape``. Lax pydantic would also read
    a number, or a string of digits, as seconds since 1970 (``to=0`` was 1970-01-01), which the
    document's ``format: date`` / ``date-time`` does not allow. Values built in Python pass."""
    form = re.compile(shape)

    def check(value: Any) -> Any:
        if isinstance(value, str) and not form.fullmatch(value):
            raise ValueError(f"must be {words}")
        if not isinstance(value, str | date):  # a datetime is a date
            raise ValueError(f"must be {words}")
        return value

    return BeforeValidator(check)


#: ``Annotated[date, IsoDay]``: a day as ``YYYY-MM-DD``
IsoDay = _iso_text(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "a date as YYYY-MM-DD")
#: ``Annotated[AwareDatetime, IsoMoment]``: a moment as ISO 8601 text (``2026-12-04T10:00:00Z``)
IsoMoment = _iso_text(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ].*", "an ISO 8601 date-time like 2026-12-04T10:00:00Z")


def _not_nullable(field: dict[str, Any]) -> None:
    options = [option for option in field.pop("anyOf", ()) if option.get("type") != "null"]
    if len(options) == 1:
        field.update(options[0])
    elif options:
        field["anyOf"] = options
    if field.get("default", "") is None:
        del field["default"]


def omittable_not_null(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of a PATCH model whose fields may be left out but not sent as null
    (the model types them ``X | None = None`` to tell "left out" apart; :func:`refuse_null` or the
    service refuses null)."""
    for field in schema.get("properties", {}).values():
        _not_nullable(field)


def omittable_not_null_fields(*names: str) -> Callable[[dict[str, Any]], None]:
    """:func:`omittable_not_null` for the fields ``names`` only (the others may be sent as null)."""

    def extra(schema: dict[str, Any]) -> None:
        properties = schema.get("properties", {})
        for name in names:
            if name in properties:
                _not_nullable(properties[name])

    return extra


def refuse_null(value: Any) -> Any:
    """A ``mode="before"`` field validator for a partial update whose fields may be left out but
    not sent as null: the model types them ``X | SkipJsonSchema[None] = None`` (None: left out)."""
    if value is None:
        raise ValueError("must not be null; leave the field out to keep its value")
    return value


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, UnionType):
        return any(_is_int(arg) for arg in get_args(annotation))
    return False


@cache
def _int_fields(model: type[BaseModel]) -> frozenset[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        if _is_int(field.annotation):
            names.update((name, field.alias or name))
    return frozenset(names)


class StrictRequest(BaseModel):
    """A request body: unknown fields refused, JSON types not coerced (``"2"`` is not a quantity).

    One exception to "not coerced": a JSON number with no fractional part is an integer, as JSON
    Schema (and so the OpenAPI document) says, so ``2.0`` is a quantity of 2. Strict pydantic alone
    refuses it, which made the service refuse what its document calls valid.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        ints = _int_fields(cls)
        return {
            key: int(value) if key in ints and isinstance(value, float) and value.is_integer() else value
            for key, value in data.items()
        }


__all__ = [
    "IsoDay",
    "IsoMoment",
    "OneLine",
    "OptionalLine",
    "StrictRequest",
    "TextBlock",
    "TextRule",
    "omittable_not_null",
    "omittable_not_null_fields",
    "one_line",
    "optional_line",
    "refuse_null",
    "text_block",
]
