"""Stock rows are locked in sku order whatever plan PostgreSQL picks: no deadlock between holds.

A CI run under load saw "deadlock detected" (40P01) from one 3-sku reservation among eighty: the
holding ``UPDATE`` locks rows in the order its scan meets them, and a sequential or bitmap scan
meets them in physical (ctid) order, which an earlier update of a row changes. This test builds
that situation on purpose: the first sku's live row lies after the second's, and the holding
transaction is made to scan sequentially. PostgreSQL only: it is the planner this is about
(InnoDB walks an ``IN`` list on the primary key in key order; SQLite has one writer).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.testing.waiting import eventually
from agora.services.inventory.repository import InventoryRepository

from .conftest import Inventory, new_sku


@pytest.fixture(scope="module")
def database_backend() -> str:
    return "postgresql"


async def _scan_sequentially(session: AsyncSession) -> None:
    """The plan a loaded server may pick for a few rows anyway: rows in physical order."""
    await session.execute(text("SET LOCAL enable_indexscan = off"))
    await session.execute(text("SET LOCAL enable_bitmapscan = off"))


async def _waits_on_a_lock(inventory: Inventory, pid: int) -> bool:
    async with inventory.context.sessions() as session:
        event = await session.scalar(
            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
        return event == "Lock"


async def test_a_hold_scanning_in_physical_order_does_not_deadlock_with_one_in_sku_order(
    inventory: Inventory,
) -> None:
    first, second = sorted((new_sku("ORDER"), new_sku("ORDER")))
    await inventory.set_stock(first, 100)
    await inventory.set_stock(second, 100)
    await inventory.set_stock(first, 90)  # the first sku's live row now lies after the second's
    sessions = inventory.context.sessions

    async with sessions() as holder, sessions() as scanner:
        # the holder takes the first sku (as a hold of both in sku order would, first)
        assert await InventoryRepository(holder).hold_all([(first, 1)])

        pid = await scanner.scalar(text("SELECT pg_backend_pid()"))
        await _scan_sequentially(scanner)

        async def hold_both() -> bool:
            held = await InventoryRepository(scanner).hold_all([(first, 1), (second, 1)])
            await scanner.commit()
            return held

        both = asyncio.create_task(hold_both())
        await eventually(lambda: _waits_on_a_lock(inventory, pid), within=10, what="the scanner waits for a lock")

        # before the fix the scanner held the second sku by now (met first in the sequential
        # scan) and this wait closed the cycle: PostgreSQL cancelled one of the two after 1 s
        assert await InventoryRepository(holder).hold_all([(second, 1)])
        await holder.commit()
        assert await asyncio.wait_for(both, timeout=10)

    assert (await inventory.stock(first))["reserved"] == 2
    assert (await inventory.stock(second))["reserved"] == 2
