"""Payments' composition root: ``start`` builds its runtime once, at start-up.

Payments keeps one thing of its own beyond the chassis's context: the card network it talks to
(:mod:`.provider`; only the simulated one exists), behind the service's fault flags where they are
allowed. Its runtime holds it and its settings, typed, and makes the service object each request
works with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.http.deps import runtime_of
from agora.platform.messaging import Outbox
from agora.platform.service import ServiceContext
from agora.services.payments.provider import FaultyProvider, PaymentProvider, SimulatedProvider
from agora.services.payments.service import PaymentsService
from agora.services.payments.settings import PaymentsSettings


@dataclass(frozen=True)
class PaymentsRuntime:
    settings: PaymentsSettings
    outbox: Outbox
    provider: PaymentProvider
    """The card network (``settings.provider``), slowed or failed by the fault flags when allowed."""

    def service(self, session: AsyncSession) -> PaymentsService:
        return PaymentsService(session, events=self.outbox, provider=self.provider)


def build_provider(context: ServiceContext) -> PaymentProvider:
    provider: PaymentProvider = SimulatedProvider()
    if context.faults is not None and context.faults.allowed:
        provider = FaultyProvider(provider, context.faults)
    return provider


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[PaymentsRuntime]:
    yield PaymentsRuntime(
        settings=context.settings_as(PaymentsSettings), outbox=context.outbox, provider=build_provider(context)
    )


Runtime = Annotated[PaymentsRuntime, Depends(runtime_of(PaymentsRuntime))]
"""Payments' runtime, for its endpoints."""
