"""The OpenAPI document as the chassis answers: the problems each route can give, declared once.

FastAPI documents what a route declares and a 422 of its own shape (``application/json``,
``HTTPValidationError``). What the chassis adds around every route is invisible to it, so the
document and the behaviour disagreed (schemathesis found 175 failing operations). After FastAPI
has built the document, :func:`complete_document` walks each route's dependency tree and adds:

* the statuses its dependencies answer with, from :func:`~agora.platform.http.problems.declares`
  (the auth guards: 401, and 403 for roles or a cookie change without its CSRF token;
  ``require_json``: 415), and those its parameters declare (a signed cursor: 400);
* for a route with a body: 400 (not JSON, not UTF-8) and 413 (larger than the service takes);
* for every error response: ``application/problem+json`` with the RFC 9457 ``Problem`` schema
  (``errors[].field`` names each invalid field), ``WWW-Authenticate`` on 401 and ``Retry-After``
  on 429 and 503;
* ``security`` (a bearer token or the session cookie) on the routes that need a caller.

Statuses that only the endpoint knows (404, 409, 412 ...) stay in its ``responses=``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from agora.platform.auth.cookies import ACCESS_COOKIE, SAFE_METHODS
from agora.platform.http.problems import (
    DECLARED_CALLER,
    DECLARED_STATUSES,
    DECLARED_UNSAFE_STATUSES,
    PARAMETER_REQUIRED,
    PARAMETER_STATUSES,
    PROBLEM_JSON,
)

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. `errors[].field` names each invalid field (`body.price.amount`).",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    # some problems carry facts of their own (the sku out of stock, the readiness checks)
    "additionalProperties": True,
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token."},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": ACCESS_COOKIE,
        "description": "A browser session (`login?session=cookie`); changes also need `X-CSRF-Token`.",
    },
}
DESCRIPTIONS = {
    400: "The body or a parameter cannot be read (not JSON, not UTF-8, a modified cursor).",
    401: "No valid credentials: a bearer token or a session cookie is needed, or the one sent is invalid.",
    403: "The caller may not do this (role, ownership, or a cookie session's missing CSRF token).",
    413: "The body is larger than this service accepts.",
    415: "The body is not JSON.",
    422: "A parameter or a field of the body is invalid; `errors[].field` names it.",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "The scheme to authenticate with."}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}},
    503: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}},
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
#: FastAPI's own 422 shape, which no response of ours has
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _route_statuses(route: APIRoute, method: str) -> set[int]:
    statuses: set[int] = set()
    for dependant in _dependants(route.dependant):
        statuses.update(getattr(dependant.call, DECLARED_STATUSES, ()))
        if method not in SAFE_METHODS:
            statuses.update(getattr(dependant.call, DECLARED_UNSAFE_STATUSES, ()))
    if route.body_field is not None:
        statuses.update((400, 413))
    return statuses


def _needs_caller(route: APIRoute) -> bool:
    return any(getattr(dependant.call, DECLARED_CALLER, False) for dependant in _dependants(route.dependant))


def _parameter_statuses(operation: dict[str, Any]) -> set[int]:
    """The statuses the parameters declare; moves their ``required`` marks to the parameter."""
    statuses: set[int] = set()
    for parameter in operation.get("parameters", ()):
        schema = parameter.get("schema", {})
        statuses.update(schema.pop(PARAMETER_STATUSES, ()))
        if schema.pop(PARAMETER_REQUIRED, False):
            parameter["required"] = True
            options = [option for option in schema.pop("anyOf", ()) if option.get("type") != "null"]
            if len(options) == 1:
                schema.update(options[0])
            elif options:
                schema["anyOf"] = options
    return statuses


def _problem_response(status: int, declared: dict[str, Any] | None) -> dict[str, Any]:
    description = (declared or {}).get("description") or ""
    if not description or description == HTTPStatus(status).phrase or status == 422:
        description = DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
    response: dict[str, Any] = {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def _complete_operation(operation: dict[str, Any], route: APIRoute, method: str) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in _route_statuses(route, method) | _parameter_statuses(operation):
        responses.setdefault(str(status), {})
    for code, declared in list(responses.items()):
        if code.isdigit() and int(code) >= 400:
            responses[code] = _problem_response(int(code), declared)
    operation["responses"] = dict(sorted(responses.items()))
    if _needs_caller(route):
        operation["security"] = [{"bearer": []}, {"session": []}]


def _references(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == f"#/components/schemas/{name}" or any(_references(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_references(item, name) for item in node)
    return False


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[Any]:
    """Every API route as FastAPI documents it: a router included with ``include_router`` is
    matched lazily, so its routes are reached through their effective context (full path, the
    router's dependencies), which reads like an ``APIRoute``."""
    for context in iter_route_contexts(list(routes)):
        if isinstance(context.original_route, APIRoute):
            yield context


def complete_document(document: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Adds what the chassis answers to FastAPI's document (in place; returned for chaining)."""
    paths: dict[str, Any] = document.get("paths", {})
    for route in _api_routes(routes):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _complete_operation(operation, route, method)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        if name in schemas and not _references({**document, "components": {"schemas": {}}}, name):
            del schemas[name]
    if any("security" in op for item in paths.values() for op in item.values() if isinstance(op, dict)):
        components["securitySchemes"] = SECURITY_SCHEMES
    return document
