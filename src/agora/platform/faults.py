"""Fault flags: switch a failure on in a running service, to see the alerts and traces follow.

A service declares the flags it honours (``ServiceSpec.fault_flags``); an admin switches one with
``PUT /api/<service>/admin/faults/<flag>`` (or from the admin console) and every process of that
service injects it until it is switched off:

* ``payment-latency``: payments' provider answers ``delay_seconds`` late;
* ``payment-failures``: payments' provider fails (502, ``provider_error``) for ``rate`` of the charges;
* ``catalog-latency``: catalog's reads answer ``delay_seconds`` late;
* ``broker-publish-failures``: the outbox relay's publish fails for ``rate`` of its batches (the
  events wait in the outbox and go out once it is off: nothing is lost);
* ``recommendation-errors``: recommendations answers 503 for ``rate`` of its reads (the
  storefront shows its pages without them).

Where the flags live: a ``fault_flags`` table in the service's own database, which every replica
of the service already shares (a broadcast would miss a replica that starts later, and Redis is
not part of every deployment). Each process reads the whole table at most once per
``ttl`` seconds (one small query a second, whatever the traffic), so a switch reaches every
replica within that time; the process that took the PUT sees it at once.

Refused outside development: with ``AGORA_ENVIRONMENT`` other than development/test the flags
exist only when ``AGORA_FAULT_FLAGS_ENABLED=true``; otherwise the admin routes answer 404 and
nothing is read or injected (a row left in the table has no effect).

Every injection is a span ``fault <flag>`` (status ERROR, attribute ``fault.flag``, and an
exception event for a failure) under the span it slows or breaks, and a count in
``agora_fault_injections_total``; ``agora_fault_flag_enabled`` shows each process's view.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db import unit_of_work

log = logging.getLogger(__name__)
tracer = trace.get_tracer("agora.faults")

PAYMENT_LATENCY = "payment-latency"
PAYMENT_FAILURES = "payment-failures"
CATALOG_LATENCY = "catalog-latency"
BROKER_PUBLISH_FAILURES = "broker-publish-failures"
RECOMMENDATION_ERRORS = "recommendation-errors"

#: what each flag does, shown by the admin API and the console
DESCRIPTIONS = {
    PAYMENT_LATENCY: "The payment provider answers delay_seconds late.",
    PAYMENT_FAILURES: "The payment provider fails (502 provider_error) for rate of the charges.",
    CATALOG_LATENCY: "Catalog reads answer delay_seconds late.",
    BROKER_PUBLISH_FAILURES: "The outbox relay's publish fails for rate of its batches; events wait, none is lost.",
    RECOMMENDATION_ERRORS: "Recommendations answer 503 for rate of the reads; the storefront shows pages without them.",
}
FLAG_NAME = 64
NAME = 200  # who switched it: a user or service id
#: microseconds on MariaDB too (its plain DATETIME rounds to the second); not the messaging
#: tables' type, which the relay (a user of these flags) would import in a circle
Timestamp = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

fault_flags_metadata = sa.MetaData()
fault_flags = sa.Table(
    "fault_flags",
    fault_flags_metadata,
    sa.Column("name", sa.String(FLAG_NAME), primary_key=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("rate", sa.Float(), nullable=False),
    sa.Column("delay_seconds", sa.Float(), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("updated_by", sa.String(NAME), nullable=False),
)

injections_total = Counter(
    "agora_fault_injections_total",
    "Faults injected by a fault flag (a delayed or failed operation), by service and flag.",
    ("service", "flag"),
)
flag_enabled = Gauge(
    "agora_fault_flag_enabled",
    "1 while this process sees the fault flag switched on.",
    ("service", "flag"),
    multiprocess_mode="max",
)


class FaultSwitch(BaseModel):
    """The body of ``PUT /api/<service>/admin/faults/<flag>``."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool
    rate: float = Field(default=1.0, gt=0, le=1, description="Share of the operations that fail (failure flags).")
    delay_seconds: float = Field(default=1.0, ge=0, le=30, description="Added latency (latency flags).")


@dataclass(frozen=True)
class Fault:
    """A flag switched on, as a process sees it."""

    name: str
    rate: float
    delay_seconds: float
    updated_at: datetime | None = None
    updated_by: str = ""


class FaultInjected(RuntimeError):
    """What a failure flag raises where the service's own exception would not do."""


class FaultFlags:
    """The flags one service honours, read from its database through a short cache."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        service: str,
        flags: tuple[str, ...],
        allowed: bool,
        ttl: float = 1.0,
    ) -> None:
        unknown = set(flags) - set(DESCRIPTIONS)
        if unknown:
            raise ValueError(f"unknown fault flags: {sorted(unknown)}")
        self.service = service
        self.flags = flags
        self.allowed = allowed and bool(flags)
        self._sessions = sessions
        self._ttl = ttl
        self._active: dict[str, Fault] = {}
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        for flag in flags:
            injections_total.labels(service, flag)
            flag_enabled.labels(service, flag).set(0)

    # -- reading ------------------------------------------------------------------------------

    async def active(self, name: str) -> Fault | None:
        """The flag ``name`` if it is on (at most ``ttl`` seconds old), else ``None``."""
        if not self.allowed or name not in self.flags:
            return None
        if time.monotonic() - self._read_at >= self._ttl and not self._lock.locked():
            async with self._lock:
                await self._refresh()
        return self._active.get(name)

    async def _refresh(self) -> None:
        try:
            rows = await self._rows()
        except Exception:
            # a database that does not answer keeps the last view; the request goes on
            log.warning("fault flags: could not read %s's flags", self.service, exc_info=True)
            self._read_at = time.monotonic()
            return
        self._active = {
            row.name: Fault(row.name, row.rate, row.delay_seconds, row.updated_at, row.updated_by)
            for row in rows
            if row.enabled and row.name in self.flags
        }
        self._read_at = time.monotonic()
        for flag in self.flags:
            flag_enabled.labels(self.service, flag).set(1 if flag in self._active else 0)

    async def _rows(self) -> list[Any]:
        async with self._sessions() as session:
            return list((await session.execute(sa.select(fault_flags))).all())

    async def describe(self) -> list[dict[str, Any]]:
        """Every flag of the service with its state, straight from the database."""
        rows = {row.name: row for row in await self._rows()}
        described = []
        for flag in self.flags:
            row = rows.get(flag)
            described.append(
                {
                    "flag": flag,
                    "description": DESCRIPTIONS[flag],
                    "enabled": bool(row.enabled) if row else False,
                    "rate": row.rate if row else 1.0,
                    "delay_seconds": row.delay_seconds if row else 1.0,
                    "updated_at": _aware(row.updated_at).isoformat() if row else None,
                    "updated_by": row.updated_by if row else None,
                }
            )
        return described

    # -- switching ----------------------------------------------------------------------------

    async def switch(self, name: str, switch: FaultSwitch, *, by: str) -> None:
        """Store the flag's new state; this process sees it at once, the others within ``ttl``."""
        values = {
            "enabled": switch.enabled,
            "rate": switch.rate,
            "delay_seconds": switch.delay_seconds,
            "updated_at": datetime.now(UTC),
            "updated_by": by[:NAME],
        }
        for _ in range(2):  # two admins inserting the first row at once: the loser updates it
            async with unit_of_work(self._sessions) as session:
                changed = await session.execute(sa.update(fault_flags).where(fault_flags.c.name == name).values(values))
                if changed.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's result has it
                    try:
                        await session.execute(sa.insert(fault_flags).values(name=name, **values))
                    except IntegrityError:
                        continue
                await session.commit()
                break
        log.warning("fault flag %s of %s switched %s by %s", name, self.service, "on" if switch.enabled else "off", by)
        self._read_at = float("-inf")
        await self._refresh()

    # -- injecting ----------------------------------------------------------------------------

    async def delay(self, name: str) -> None:
        """Sleep the flag's ``delay_seconds`` when it is on, in a failing span that says why."""
        fault = await self.active(name)
        if fault is None or fault.delay_seconds <= 0:
            return
        injections_total.labels(self.service, name).inc()
        with _fault_span(fault) as span:
            span.set_attribute("fault.delay_seconds", fault.delay_seconds)
            span.set_status(Status(StatusCode.ERROR, f"{name}: {fault.delay_seconds:g}s added by a fault flag"))
            await asyncio.sleep(fault.delay_seconds)

    async def fail(self, name: str, error: Callable[[str], BaseException] = FaultInjected) -> None:
        """Raise ``error(message)`` for the flag's ``rate`` of the calls when it is on; the span
        ``fault <flag>`` records the exception."""
        fault = await self.active(name)
        if fault is None or random.random() >= fault.rate:
            return
        injections_total.labels(self.service, name).inc()
        exception = error(f"injected by the fault flag {name} of {self.service}")
        exception.fault_flag = name  # type: ignore[attr-defined]  # read by the spans it fails
        with _fault_span(fault) as span:
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, f"{name}: failure injected by a fault flag"))
        raise exception


def delayed_reads(flag: str) -> Callable[[Request], Awaitable[None]]:
    """A router dependency: the service's GET (and HEAD) routes answer late while ``flag`` is on."""

    async def delay(request: Request) -> None:
        faults: FaultFlags | None = request.state.context.faults
        if faults is not None and request.method in ("GET", "HEAD"):
            await faults.delay(flag)

    return delay


def failed_requests(flag: str, error: Callable[[str], BaseException]) -> Callable[[Request], Awaitable[None]]:
    """A router dependency: the service's routes raise ``error`` for the flag's rate while it is on."""

    async def fail(request: Request) -> None:
        faults: FaultFlags | None = request.state.context.faults
        if faults is not None:
            await faults.fail(flag, error)

    return fail


def _fault_span(fault: Fault) -> Any:
    return tracer.start_as_current_span(
        f"fault {fault.name}",
        attributes={"fault.flag": fault.name, "fault.rate": fault.rate},
        record_exception=False,
        set_status_on_exception=False,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def faults_allowed(platform: Any) -> bool:
    """Development and test always; elsewhere only with ``AGORA_FAULT_FLAGS_ENABLED=true``."""
    return bool(platform.is_development or platform.fault_flags_enabled)


def upgrade(op: Any) -> None:
    """Create ``fault_flags`` from a service's migration (``op`` is ``alembic.op``); spelled out,
    not taken from the table above, so the migration stays what it was."""
    op.create_table(
        "fault_flags",
        sa.Column("name", sa.String(FLAG_NAME), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("delay_seconds", sa.Float(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("updated_by", sa.String(NAME), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_fault_flags"),
    )


def downgrade(op: Any) -> None:
    op.drop_table("fault_flags")


__all__ = [
    "BROKER_PUBLISH_FAILURES",
    "CATALOG_LATENCY",
    "DESCRIPTIONS",
    "PAYMENT_FAILURES",
    "PAYMENT_LATENCY",
    "RECOMMENDATION_ERRORS",
    "Fault",
    "FaultFlags",
    "FaultInjected",
    "FaultSwitch",
    "delayed_reads",
    "failed_requests",
    "fault_flags",
    "faults_allowed",
]
