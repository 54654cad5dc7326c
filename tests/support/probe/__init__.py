"""A minimal service used to test the chassis on its own: one table, one write that emits an event."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Integer, MetaData, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import Response

from agora.platform.auth import Admin, CurrentSubject, ServiceCaller
from agora.platform.db import Session
from agora.platform.errors import PaymentRequiredError
from agora.platform.http.problems import require_json
from agora.platform.idempotency import IdempotencyKey, IdempotentResult, idempotent
from agora.platform.service import ServiceSpec, context_of
from agora.platform.settings import ServiceSettings


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    model_config = SettingsConfigDict(env_prefix="AGORA_PROBE_", extra="ignore", frozen=True)


class Base(DeclarativeBase):
    metadata = MetaData()


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(String(100))


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=100)


class PaymentIn(BaseModel):
    text: str = Field(min_length=1, max_length=100)
    outcome: Literal["ok", "refuse", "crash"] = "ok"
    gate: str | None = None
    """Hold the effect until the test opens ``GATES[gate]`` (to observe a request in flight)."""


#: Events a test opens to let a held request finish; the request sets ``ENTERED[gate]`` first.
GATES: dict[str, asyncio.Event] = {}
ENTERED: dict[str, asyncio.Event] = {}


router = APIRouter(prefix="/api/probe", dependencies=[Depends(require_json)])


@router.post("/notes", status_code=201)
async def create_note(body: NoteIn, session: Session, request: Request, _: Admin) -> dict[str, int | str]:
    note = Note(text=body.text)
    session.add(note)
    await session.flush()
    await context_of(request).outbox.add(session, "probe.note.created", {"id": note.id, "text": note.text})
    return {"id": note.id, "text": note.text}


@router.post("/fail")
async def fail(session: Session, request: Request, _: Admin) -> None:
    session.add(Note(text="never stored"))
    await session.flush()
    await context_of(request).outbox.add(session, "probe.note.created", {"id": -1, "text": "never"})
    raise RuntimeError("boom after writing")


@router.post("/payments")
async def pay(request: Request, body: PaymentIn, caller: CurrentSubject, key: IdempotencyKey) -> Response:
    """An idempotent write: a note, an event, and the stored answer, or a stored refusal."""

    async def run(session: AsyncSession) -> IdempotentResult:
        if body.gate is not None:  # before writing: SQLite would hold its one write lock meanwhile
            ENTERED.setdefault(body.gate, asyncio.Event()).set()
            await GATES.setdefault(body.gate, asyncio.Event()).wait()
        note = Note(text=body.text)
        session.add(note)
        await session.flush()
        await context_of(request).outbox.add(session, "probe.payment.made", {"id": note.id})
        if body.outcome == "refuse":
            raise PaymentRequiredError("declined", field="text", reason="card_declined")
        if body.outcome == "crash":
            raise RuntimeError("the provider fell over")
        return IdempotentResult(201, {"id": note.id, "text": note.text})

    return await idempotent(request, scope=caller.id, key=key, payload=body, run=run)


@router.get("/whoami")
async def whoami(caller: CurrentSubject) -> dict[str, object]:
    return {"id": caller.id, "roles": sorted(caller.roles)}


@router.get("/internal")
async def internal(caller: ServiceCaller) -> dict[str, object]:
    return {"id": caller.id}


@router.post("/relay-as-service")
async def relay_as_service(request: Request, _: CurrentSubject) -> Response:
    """Calls this service's own internal route with the service token, not the caller's."""
    response = await context_of(request).clients("probe").get("/api/probe/internal", as_service=True)
    return Response(response.content, status_code=response.status_code, media_type="application/json")


@router.get("/notes/count")
async def count(session: Session) -> dict[str, int]:
    return {"count": (await session.scalar(select(func.count()).select_from(Note))) or 0}


@router.get("/echo")
async def echo(value: Annotated[int, Field(ge=0, le=10)]) -> dict[str, int]:
    return {"value": value}


spec = ServiceSpec(
    name="probe",
    title="Probe",
    settings_cls=ProbeSettings,
    router=router,
    metadata=Base.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
)
