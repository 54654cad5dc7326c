"""Validators for free text that every service's request models share.

Text from clients is refused (a 422 naming the field), never silently cleaned, when it holds what
no legitimate input needs and some store or log mangles: control characters (PostgreSQL refuses
NUL; newlines in a name split log lines and headers) and unpaired surrogates (not encodable as
UTF-8). Use them as ``Annotated[str, Field(max_length=...), OneLine]``.
"""

from __future__ import annotations

import re

from pydantic import AfterValidator

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


OneLine = AfterValidator(one_line)
TextBlock = AfterValidator(text_block)

__all__ = ["OneLine", "TextBlock", "one_line", "text_block"]
