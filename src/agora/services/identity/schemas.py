"""Request and response models of the identity API (never the tables).

Requests refuse unknown fields (so ``PATCH /me`` with ``role`` is a 422 naming ``role``, and
nothing changes), do not coerce JSON types, and refuse control characters in text. Emails are
trimmed and lower-cased before they are stored or compared.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from agora.platform.validation import OneLine, StrictRequest, omittable_not_null
from agora.platform.validation import OptionalLine as OptionalText
from agora.services.identity.models import EMAIL_LENGTH, NAME_LENGTH
from agora.services.identity.passwords import MAX_LENGTH, MIN_LENGTH, common_passwords, policy_violation

Role = Literal["customer", "support", "admin"]

# A pragmatic address check (RFC 5321 lengths, a dotted domain of LDH labels), not RFC 5322:
# quoted local parts and IP literals are refused on purpose; confirmation mail proves the rest.
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("must be an email address like name@example.com")
    if len(email) > EMAIL_LENGTH or len(local) > 64:
        raise ValueError("is too long for an email address")
    labels = domain.split(".")
    if not _LOCAL.match(local) or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("must be an email address like name@example.com")
    if labels[-1].isdigit():
        raise ValueError("must be an email address like name@example.com")
    return email


def _password(value: str) -> str:
    problem = policy_violation(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: what ``normalise_email`` accepts, for the JSON schema (a little stricter: no surrounding blanks,
#: at most three dotted parts before the @ so its 64 characters hold, a top label with a letter)
_EMAIL_CHARS = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = (
    rf"^{_EMAIL_CHARS}{{1,32}}(?:\.{_EMAIL_CHARS}{{1,15}}){{0,2}}"
    rf"@(?:{_EMAIL_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?$"
)
Email = Annotated[
    str,
    Field(max_length=EMAIL_LENGTH + 10, json_schema_extra={"maxLength": EMAIL_LENGTH, "pattern": EMAIL_PATTERN}),
    AfterValidator(normalise_email),
]
# the policy in the JSON schema: its lengths, and that the most common passwords are refused
NewPassword = Annotated[
    str,
    Field(
        max_length=MAX_LENGTH * 4,
        json_schema_extra={
            "minLength": MIN_LENGTH,
            "maxLength": MAX_LENGTH,
            "not": {"enum": sorted(p for p in common_passwords() if MIN_LENGTH <= len(p) <= MAX_LENGTH)},
        },
    ),
    AfterValidator(_password),
]
# login takes any non-empty string up to the maximum: the policy applies when passwords are set
AnyPassword = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH * 4)]
DisplayName = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH), OneLine]
Line = Annotated[str, Field(min_length=1, max_length=200), OneLine]
ShortLine = Annotated[str, Field(min_length=1, max_length=100), OneLine]
OptionalLine = Annotated[str, Field(max_length=200), OptionalText]
OptionalShort = Annotated[str, Field(max_length=100), OptionalText]
PostalCode = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, upper case.")]
OpaqueToken = Annotated[str, Field(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


class _Request(StrictRequest):
    pass


class RegisterIn(_Request):
    email: Email
    password: NewPassword
    display_name: DisplayName | None = None


class LoginIn(_Request):
    email: Annotated[str, Field(min_length=1, max_length=EMAIL_LENGTH + 10)]
    password: AnyPassword


class PasswordResetIn(_Request):
    email: Annotated[str, Field(min_length=1, max_length=EMAIL_LENGTH + 10)]


class PasswordResetConfirmIn(_Request):
    token: OpaqueToken
    password: NewPassword


class RefreshIn(_Request):
    refresh_token: OpaqueToken


class MeUpdate(_Request):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """Only the caller's own profile fields; ``role``, ``is_active`` and ``email`` are refused."""

    display_name: DisplayName | None = None


class AddressIn(_Request):
    label: OptionalShort = ""
    recipient: ShortLine
    line1: Line
    line2: OptionalLine = ""
    city: ShortLine
    region: OptionalShort = ""
    postal_code: PostalCode
    country: Country


class AddressUpdate(_Request):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """Fields left out keep their value; null is refused (the document says so)."""

    model_config = ConfigDict(json_schema_extra=omittable_not_null)

    label: OptionalShort | None = None
    recipient: ShortLine | None = None
    line1: Line | None = None
    line2: OptionalLine | None = None
    city: ShortLine | None = None
    region: OptionalShort | None = None
    postal_code: PostalCode | None = None
    country: Country | None = None


class UserAdminUpdate(_Request):
    model_config = ConfigDict(json_schema_extra=omittable_not_null)

    role: Role | None = None
    is_active: bool | None = None


# -- responses ------------------------------------------------------------------------------------


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class ServiceTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(
        min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9-]*$", description="The calling service's name."
    )
    secret: str = Field(min_length=1, max_length=512, description="The shared service secret (AGORA_SERVICE_SECRET).")


class ServiceToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = None


class AddressOut(BaseModel):
    id: str
    label: str
    recipient: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    created_at: datetime
    updated_at: datetime


class AddressList(BaseModel):
    items: list[AddressOut]
    next_cursor: str | None = None
