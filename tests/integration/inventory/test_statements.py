"""How many SQL statements a reservation costs, whatever its number of lines: a bound that can fail.

Every statement is a round trip (on SQLite a thread hand-off inside the write gate), and the
saga reserves on every checkout. Holding the lines is one UPDATE for all of them.
"""

from __future__ import annotations

from agora.contracts.inventory import ReservationItem, ReservationRequest
from agora.platform.testing.statements import recorded_statements
from agora.services.inventory.service import InsufficientStockError, InventoryService

from .conftest import Inventory, new_reservation_id, new_sku

#: select the reservation (none yet), insert it, insert its items, hold the units, write the event
RESERVE_STATEMENTS = 5
#: and, for two lines or more on a server with row locks, lock the rows in sku order first
LOCK_STATEMENTS = {"sqlite": 0, "postgresql": 1, "mariadb": 1}


async def test_a_reservation_is_five_statements_or_six_for_any_number_of_lines(
    inventory: Inventory, database_backend: str
) -> None:
    skus = [new_sku("STMT") for _ in range(4)]
    for sku in skus:
        await inventory.set_stock(sku, 10)
    context = inventory.context
    counts = []
    for lines in (skus[:1], skus):
        request = ReservationRequest(
            reservation_id=new_reservation_id(), items=[ReservationItem(sku=sku, quantity=2) for sku in lines]
        )
        async with context.sessions() as session:
            service = InventoryService(session, events=context.outbox)
            async with recorded_statements(session) as statements:
                reserved = await service.reserve(request)
            await session.commit()
        assert reserved.created
        counts.append(len(statements))
    assert counts == [RESERVE_STATEMENTS, RESERVE_STATEMENTS + LOCK_STATEMENTS[database_backend]], counts
    assert [(await inventory.stock(sku))["reserved"] for sku in skus] == [4, 2, 2, 2]


async def test_a_short_line_holds_nothing(inventory: Inventory) -> None:
    plenty, short = new_sku("STMT"), new_sku("STMT")
    await inventory.set_stock(plenty, 10)
    await inventory.set_stock(short, 1)
    request = ReservationRequest(
        reservation_id=new_reservation_id(),
        items=[ReservationItem(sku=plenty, quantity=2), ReservationItem(sku=short, quantity=2)],
    )
    context = inventory.context
    async with context.sessions() as session:
        service = InventoryService(session, events=context.outbox)
        try:
            await service.reserve(request)
        except InsufficientStockError as refusal:
            assert refusal.field == "items[1].quantity"
        else:
            raise AssertionError("a short line was held")
        await session.rollback()
    assert (await inventory.stock(plenty))["reserved"] == 0
    assert (await inventory.stock(short))["reserved"] == 0
