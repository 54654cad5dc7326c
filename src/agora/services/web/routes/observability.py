"""The admin console's observability page: each service's dashboards in Grafana, the alerts
Alertmanager has firing, and the fault flags with their switches.

Grafana and Alertmanager are optional (``AGORA_WEB_GRAFANA_URL``, ``AGORA_WEB_ALERTMANAGER_URL``):
unset, down or slow, the page says so and draws the rest; a service that does not answer loses
only its own flags. The flags are switched through each service's admin API
(``PUT /api/<service>/admin/faults/<flag>``, agora.platform.faults), which checks the role and
the body again: a refused switch shows the service's reason next to the page.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import structlog
from fastapi import APIRouter, Form, Path
from starlette.exceptions import HTTPException
from starlette.responses import Response

from agora.services.web.pages import ThisVisit, Visit
from agora.services.web.routes.admin import CsrfField, _back, _guarded, _page, _refusal

log = structlog.get_logger(__name__)
router = APIRouter()

PAGE = "/admin/observability"
#: the Alertmanager API route of the alerts (v2; v1 is gone since Alertmanager 0.27)
ALERTS = "/api/v2/alerts"
SEVERITIES = {"critical": 0, "warning": 1}
FormNumber = Annotated[str, Form(max_length=20)]


@dataclass(frozen=True)
class Dashboard:
    title: str
    url: str | None


@dataclass(frozen=True)
class Alerts:
    """The alerts firing, or why they cannot be shown (``problem``)."""

    firing: list[dict[str, Any]]
    problem: str | None = None


@functools.cache
def _dashboards() -> list[tuple[str, str, bool]]:
    # the deploy module builds every dashboard's JSON: once per process, and only when asked
    from agora.deploy.dashboards import index

    return index()


def dashboards(grafana: str | None, services: list[str]) -> tuple[list[Dashboard], dict[str, Dashboard]]:
    """The platform's dashboards, and each service's view of the per-service ones."""
    base = grafana.rstrip("/") if grafana else None
    shared = [Dashboard(title, f"{base}/d/{uid}" if base else None) for uid, title, _ in _dashboards()]
    per_service = {}
    for uid, title, by_service in _dashboards():
        if by_service:
            for name in services:
                per_service[name] = Dashboard(title, f"{base}/d/{uid}?var-service={quote(name)}" if base else None)
    return shared, per_service


async def firing_alerts(alertmanager: str | None, *, wait: float) -> Alerts:
    if not alertmanager:
        return Alerts([], "Alertmanager is not configured here (AGORA_WEB_ALERTMANAGER_URL).")
    url = alertmanager.rstrip("/") + ALERTS
    params = {"active": "true", "silenced": "false", "inhibited": "false"}
    try:
        async with httpx.AsyncClient(timeout=wait) as client:
            response = await client.get(url, params=params)
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, list):
            raise ValueError("not a list of alerts")
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("alertmanager_unavailable", url=url, error=type(exc).__name__)
        return Alerts([], f"Alertmanager does not answer right now ({type(exc).__name__}); the alerts are not shown.")
    firing = [
        {
            "name": alert["labels"].get("alertname", "?"),
            "severity": alert["labels"].get("severity", ""),
            "where": ", ".join(
                f"{key}={value}"
                for key, value in sorted(alert["labels"].items())
                if key not in ("alertname", "severity")
            ),
            "summary": alert.get("annotations", {}).get("summary", ""),
            "runbook": alert.get("annotations", {}).get("runbook_url", ""),
            "since": alert.get("startsAt", ""),
        }
        for alert in answer
        if isinstance(alert, dict) and isinstance(alert.get("labels"), dict)
    ]
    firing.sort(key=lambda a: (SEVERITIES.get(a["severity"], 9), a["name"], a["where"]))
    return Alerts(firing)


async def fault_flags(visit: Visit, services: list[str]) -> list[tuple[str, Any]]:
    """Each service's flags (services without flags, or where they are off, are left out)."""
    backend = visit.backend
    answers = await asyncio.gather(*(backend.get(name, f"/api/{name}/admin/faults", missing=None) for name in services))
    return [(name, answer) for name, answer in zip(services, answers, strict=True) if answer is not None]


async def _values(visit: Visit, flashes: list[dict[str, str]] | None = None) -> dict[str, Any]:
    settings = visit.settings
    services = await visit.runtime.service_names()
    shared, per_service = dashboards(settings.grafana_url, services)
    alerts, faults = await asyncio.gather(
        firing_alerts(settings.alertmanager_url, wait=settings.backend_timeout),
        fault_flags(visit, services),
    )
    return {
        "grafana": settings.grafana_url,
        "dashboards": shared,
        "service_dashboards": [(name, per_service.get(name)) for name in services],
        "alerts": alerts,
        "faults": faults,
        "flashes": flashes or [],
    }


@router.get(PAGE)
@_guarded
async def observability(visit: ThisVisit) -> Response:
    return await _page(visit, "admin/observability.html", await _values(visit))


@router.post(PAGE + "/faults/{service}/{flag}")
@_guarded
async def switch_fault(
    visit: ThisVisit,
    service: Annotated[str, Path(max_length=40, pattern=r"^[a-z]+$")],
    flag: Annotated[str, Path(max_length=64, pattern=r"^[a-z-]+$")],
    enabled: Annotated[str, Form(pattern=r"^(on|off)$")],
    rate: FormNumber = "",
    delay_seconds: FormNumber = "",
    csrf_token: CsrfField = "",
) -> Response:
    await visit.require_csrf(csrf_token)
    if service not in await visit.runtime.service_names():
        raise HTTPException(404, "No such service.")
    # the numbers go as typed: the service validates them and names the field it refuses
    body: dict[str, Any] = {"enabled": enabled == "on"}
    if rate.strip():
        body["rate"] = rate.strip()
    if delay_seconds.strip():
        body["delay_seconds"] = delay_seconds.strip()
    response = await visit.backend.send(service, "PUT", f"/api/{service}/admin/faults/{flag}", json=body)
    refused = _refusal(response, service)
    if refused is not None:
        flashes = refused.flashes(f"{service} {flag}: ", beside_fields=False)
        return await _page(visit, "admin/observability.html", await _values(visit, flashes), status_code=refused.status)
    return _back(PAGE, "fault-on" if enabled == "on" else "fault-off")


__all__ = ["dashboards", "firing_alerts", "router"]
