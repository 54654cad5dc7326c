from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.contracts.base import Event
from agora.platform.db import create_engine, create_sessionmaker
from agora.platform.messaging import Envelope, Outbox, messaging_metadata, outbox


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_add_writes_a_row_in_the_callers_transaction(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        envelope = await Outbox("agora/catalog").add(
            session, "catalog.product.created", {"sku": "A-1"}, subject="product/1"
        )
        assert session.info["outbox_dirty"] is True
        await session.commit()
    async with sessions() as session:
        row = (await session.execute(select(outbox))).one()
    assert row.event_id == envelope.id
    assert (row.topic, row.type, row.source, row.key) == (
        "catalog",
        "catalog.product.created",
        "agora/catalog",
        "product/1",
    )
    assert row.published_at is None and row.attempts == 0
    assert Envelope.from_bytes(row.payload) == envelope


async def test_rolled_back_events_never_exist(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await Outbox("agora/catalog").add(session, "catalog.product.created", {})
        await session.rollback()
    async with sessions() as session:
        assert (await session.execute(select(outbox))).all() == []


async def test_explicit_key_wins_over_subject(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await Outbox("s").add(session, "orders.order.placed", {}, subject="order/1", key="customer/9")
        assert (await session.execute(select(outbox.c.key))).scalar_one() == "customer/9"


async def test_add_captures_the_current_trace_context(sessions: async_sessionmaker[AsyncSession]) -> None:
    span_context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(span_context)))
    try:
        async with sessions() as session:
            envelope = await Outbox("s").add(session, "orders.order.placed", {})
    finally:
        context.detach(token)
    assert envelope.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_without_a_span_there_is_no_traceparent(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        envelope = await Outbox("s").add(session, "orders.order.placed", {})
    assert envelope.traceparent is None


class _Shipped(Event):
    event_type: ClassVar[str] = "shipping.parcel.shipped"

    parcel_id: str
    from_: str = Field(alias="from")
    at: datetime


async def test_an_event_is_added_as_its_contract_model(sessions: async_sessionmaker[AsyncSession]) -> None:
    at = datetime(2026, 12, 5, 1, 2, 3, 456000, tzinfo=UTC)
    async with sessions() as session:
        shipped = _Shipped(parcel_id="p-1", from_="DE", at=at)
        envelope = await Outbox("agora/shipping").add(session, shipped, subject="p-1")
        await session.commit()
    async with sessions() as session:
        row = (await session.execute(select(outbox))).one()
    assert (row.topic, row.type, row.key) == ("shipping", "shipping.parcel.shipped", "p-1")
    # the same data a hand-built dict with iso_utc had: aliases, datetimes with Z
    assert envelope.data == {"parcel_id": "p-1", "from": "DE", "at": "2026-12-05T01:02:03.456000Z"}
    assert Envelope.from_bytes(row.payload) == envelope
