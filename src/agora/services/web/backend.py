"""The services, called on behalf of the page's visitor, degrading instead of failing.

A page is drawn from several services. When one of them is down, slow or refuses, only its part
of the page goes missing: :meth:`Backend.get` answers :data:`UNAVAILABLE` (falsy, and templates
test it with ``is unavailable``) instead of raising, and the reason is logged once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import httpx
import structlog
from starlette.requests import Request

from agora.platform.auth.cookies import ACCESS_COOKIE
from agora.platform.http.clients import ServiceClient, ServiceNotConfiguredError
from agora.platform.http.resilience import CircuitOpenError

log = structlog.get_logger(__name__)


class _Unavailable:
    """A service's answer that could not be had (down, timed out, 5xx)."""

    _instance: _Unavailable | None = None

    def __new__(cls) -> _Unavailable:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE: Final = _Unavailable()

#: what a call to a service that is not there raises (transport errors, an open breaker)
CALL_FAILURES = (httpx.HTTPError, CircuitOpenError, ServiceNotConfiguredError, TimeoutError)


class Backend:
    """One request's view of the services: the visitor's session token goes along as a bearer."""

    def __init__(self, request: Request, clients: Callable[[str], ServiceClient], *, timeout: float) -> None:
        self.clients = clients
        self.timeout = timeout
        token = request.cookies.get(ACCESS_COOKIE)
        # "" means explicitly anonymous to the chassis client (never the web's own caller's header)
        self.authorization = f"Bearer {token}" if token else ""
        # identity throttles logins and reset requests per client address: it must count the
        # visitor's, not the web's (the chassis believes this header in-process and from
        # AGORA_TRUSTED_PROXIES only)
        self.forwarded_for = request.client.host if request.client else ""

    async def request(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The raw response; raises what :data:`CALL_FAILURES` lists when the service is not there."""
        headers = {"authorization": self.authorization, **kwargs.pop("headers", {})}
        if self.forwarded_for:
            headers["x-forwarded-for"] = self.forwarded_for
        kwargs.setdefault("timeout", self.timeout)
        return await self.clients(service).request(method, path, headers=headers, **kwargs)

    async def get(self, service: str, path: str, *, params: Any = None, missing: Any = None) -> Any:
        """The JSON document at ``path``; ``missing`` for a 404, :data:`UNAVAILABLE` when it failed."""
        try:
            response = await self.request(service, "GET", path, params=params)
        except CALL_FAILURES as exc:
            log.warning("backend_unavailable", service=service, path=path, error=type(exc).__name__)
            return UNAVAILABLE
        if response.status_code == 404:
            return missing
        if response.status_code >= 400:
            log.warning("backend_refused", service=service, path=path, status=response.status_code)
            return UNAVAILABLE
        return response.json()

    async def send(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response | _Unavailable:
        """A change (POST, PATCH, DELETE...): the response, whatever its status, or UNAVAILABLE."""
        try:
            return await self.request(service, method, path, **kwargs)
        except CALL_FAILURES as exc:
            log.warning("backend_unavailable", service=service, path=path, error=type(exc).__name__)
            return UNAVAILABLE


#: pydantic's messages (what the services' problem+json carries per field) in a shopper's words;
#: the first pattern that matches wins, ``{n}`` is its number
_PLAIN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), words)
    for pattern, words in (
        (r"^field required", "Fill this in."),
        (r"should have at least (\d+) characters?", "Use at least {n} characters."),
        (r"should have at most (\d+) characters?", "Use at most {n} characters."),
        (r"should have at least (\d+) items?", "Choose at least {n}."),
        (r"should have at most (\d+) items?", "Choose at most {n}."),
        (r"should be greater than or equal to (-?[\d.]+)", "Enter {n} or more."),
        (r"should be greater than (-?[\d.]+)", "Enter a number above {n}."),
        (r"should be less than or equal to (-?[\d.]+)", "Enter {n} or less."),
        (r"should be less than (-?[\d.]+)", "Enter a number below {n}."),
        (r"valid email|email address", "Enter an email address like name@example.com."),
        (r"valid integer", "Enter a whole number."),
        (r"valid (decimal|number)|finite number", "Enter a number, like 12.5."),
        (r"should match pattern", "Use only letters, digits, spaces and dashes here."),
        (r"^input should be '", "Choose one of the options."),
        (r"no more than (\d+) decimal places", "Use at most {n} decimal places."),
        (r"^(is )?invalid$", "This is not valid."),
    )
)


def plain_words(message: str) -> str:
    """A validation message as a sentence for a person: ``Value error, must be at least 8
    characters`` → ``Must be at least 8 characters.``; ``String should have at least 8 characters``
    → ``Use at least 8 characters.``. A message that is already a sentence is kept."""
    text = re.sub(r"^(value|assertion) error,\s*", "", message.strip(), flags=re.IGNORECASE)
    for pattern, words in _PLAIN:
        found = pattern.search(text)
        if found:
            return words.format(n=found.group(1) if found.groups() else "")
    if not text:
        return "Check this field."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _field_name(path: str) -> str:
    """The form field a problem names: the last named part of ``body.tags.0`` or ``/card/number``."""
    parts = [part for part in re.split(r"[./]", path) if part and not part.isdigit()]
    return parts[-1] if parts else ""


def problem_detail(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """A service's problem+json as a message for the page and per-field errors for a form, in plain
    words: the fields' own messages go next to the fields, so the page's message only points there
    (never ``Check these fields: body.password.``)."""
    try:
        body = response.json()
    except ValueError:
        return f"The request failed ({response.status_code}).", {}
    if not isinstance(body, dict):
        return f"The request failed ({response.status_code}).", {}
    fields: dict[str, str] = {}
    for error in body.get("errors") or ():
        if isinstance(error, dict):
            name = _field_name(str(error.get("field") or error.get("pointer") or ""))
            if name:
                fields.setdefault(name, plain_words(str(error.get("detail") or error.get("message") or "")))
    if body.get("field") and body.get("detail"):
        fields.setdefault(_field_name(str(body["field"])), plain_words(str(body["detail"])))
    detail = str(body.get("detail") or body.get("title") or f"The request failed ({response.status_code}).")
    if fields and (detail.startswith("Check these fields") or body.get("status") == 422):
        detail = "Check the fields marked below."
    return detail, fields
