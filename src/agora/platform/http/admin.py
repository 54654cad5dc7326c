"""Operator routes every service has: its messaging state, dead-letter replay, its configuration.

Mounted under ``/api/<service>/admin/`` and for the admin role only. The admin console reads them
for every service; ``agora dead-letters`` / ``agora replay-dead-letter`` do the same from a shell.

* ``GET  /api/<service>/admin/messaging``: outbox rows not yet published (and the oldest one's
  age), and the dead letters not yet replayed.
* ``POST /api/<service>/admin/dead-letters/{id}/replay``: the parked event goes back to its
  topic; with the in-process broker that is this process's own consumers.
* ``GET  /api/<service>/admin/config``: the service's and the platform's settings, secrets masked.
* ``GET  /api/<service>/admin/faults``: the service's fault flags and their state;
  ``PUT /api/<service>/admin/faults/{flag}`` switches one (``{"enabled": true, "rate": 0.5,
  "delay_seconds": 2}``; :mod:`agora.platform.faults`). Both answer 404 where the flags are off
  (outside development without ``AGORA_FAULT_FLAGS_ENABLED``) or the service has none.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, SecretStr
from sqlalchemy import func, select

from agora.platform.auth import Admin
from agora.platform.faults import FLAG_NAME, FaultFlags, FaultSwitch
from agora.platform.http.problems import NotFound, require_json
from agora.platform.messaging import list_dead_letters, replay_dead_letter
from agora.platform.messaging.tables import outbox
from agora.platform.service import ServiceContext

MASK = "********"
#: setting names whose values are secrets even when typed as plain strings
_SECRET_NAME = re.compile(r"(secret|password|token|key)(_|$)", re.IGNORECASE)
#: user:password@ in URLs (database, broker and Redis URLs carry credentials)
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]*)@", re.IGNORECASE
)


def masked(name: str, value: Any) -> Any:
    """A setting's value as an operator may see it: secrets replaced, URL passwords hidden."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {str(k): masked(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(name, v) for v in value]
    if value is not None and _SECRET_NAME.search(name) and not isinstance(value, (bool, int, float)):
        return MASK
    if isinstance(value, str):
        return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return str(value)


def settings_view(settings: BaseModel) -> dict[str, Any]:
    return {name: masked(name, getattr(settings, name)) for name in sorted(type(settings).model_fields)}


def _context(request: Request) -> ServiceContext:
    context: ServiceContext = request.state.context
    return context


def build_admin_router(service: str) -> APIRouter:
    # operator routes stay out of the service's public API document
    router = APIRouter(prefix=f"/api/{service}/admin", tags=["operations"], include_in_schema=False)

    @router.get("/messaging", summary="Outbox backlog and dead letters of this service (admin)")
    async def messaging(request: Request, _: Admin) -> dict[str, Any]:
        context = _context(request)
        async with context.read_sessions() as session:
            pending, oldest = (
                await session.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
                )
            ).one()
        age = None
        if oldest is not None:
            moment = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = round((datetime.now(UTC) - moment).total_seconds(), 3)
        letters = await list_dead_letters(context.sessions)
        return {
            "service": service,
            "outbox": {"pending": int(pending), "oldest_pending_seconds": age},
            "dead_letters": [
                {
                    "id": row["id"],
                    "consumer": row["consumer"],
                    "topic": row["topic"],
                    "type": row["event_type"],
                    "event_id": row["event_id"],
                    "attempts": row["attempts"],
                    "error": str(row["error"]).strip().splitlines()[-1][:500] if row["error"] else "",
                    "failed_at": row["created_at"].isoformat(),
                }
                for row in letters
            ],
        }

    @router.post("/dead-letters/{letter_id}/replay", summary="Deliver a dead-lettered event again (admin)")
    async def replay(request: Request, _: Admin, letter_id: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
        context = _context(request)
        try:
            envelope = await replay_dead_letter(context.sessions, context.transport, letter_id)
        except LookupError:
            raise NotFound(f"No dead letter {letter_id} waits for a replay in {service}.") from None
        return {"replayed": letter_id, "event_id": envelope.id, "type": envelope.type}

    @router.get("/config", summary="This service's running configuration, secrets masked (admin)")
    async def config(request: Request, _: Admin) -> dict[str, Any]:
        context = _context(request)
        return {
            "service": service,
            "settings": settings_view(context.settings),
            "platform": settings_view(context.platform),
        }

    def _faults(request: Request) -> FaultFlags:
        faults = _context(request).faults
        if faults is None or not faults.allowed:
            raise NotFound(
                f"{service} has no fault flags here: they exist in development and test, or where "
                "AGORA_FAULT_FLAGS_ENABLED=true."
            )
        return faults

    @router.get("/faults", summary="This service's fault flags and their state (admin)")
    async def list_faults(request: Request, _: Admin) -> dict[str, Any]:
        return {"service": service, "faults": await _faults(request).describe()}

    @router.put("/faults/{flag}", summary="Switch one fault flag of this service on or off (admin)")
    async def switch_fault(
        request: Request,
        admin: Admin,
        flag: Annotated[str, Path(max_length=FLAG_NAME)],
        body: FaultSwitch,
        _content: Annotated[None, Depends(require_json)],
    ) -> dict[str, Any]:
        faults = _faults(request)
        if flag not in faults.flags:
            raise NotFound(f"{service} has no fault flag {flag!r}; it has {', '.join(faults.flags)}.")
        await faults.switch(flag, body, by=admin.id)
        return next(each for each in await faults.describe() if each["flag"] == flag)

    return router
