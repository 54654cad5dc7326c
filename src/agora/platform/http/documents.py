"""The JSON documents the chassis answers with outside of any route: RFC 9457 problem details,
and ``/readyz``'s verdict.

Only Starlette and orjson: the front proxy of ``agora up --distributed`` answers with them too,
and it imports neither FastAPI nor SQLAlchemy (see :mod:`agora.platform.front`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = problem_body(status, title=title, detail=detail, instance=instance, type_=type_, **extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_body(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    type_: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_ or "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def readiness_response(results: dict[str, str], *, instance: str = "/readyz") -> Response:
    failing = [name for name, state in results.items() if state != "ok"]
    if not failing:
        return Response(orjson.dumps({"status": "ready", "checks": results}), media_type="application/json")
    return problem_response(
        503,
        title="Not ready",
        detail=f"Unavailable: {', '.join(failing)}.",
        instance=instance,
        checks=results,
    )


__all__ = ["PROBLEM_JSON", "problem_body", "problem_response", "readiness_response"]
