"""Reserve, commit, release, expire: each transition moves the stock once, with its event, on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from agora.contracts.inventory import (
    STOCK_COMMITTED,
    STOCK_RELEASED,
    STOCK_RESERVED,
    Reservation,
    StockReleased,
    StockReserved,
)
from agora.services.inventory.tasks import release_expired

from .conftest import API, Inventory, new_reservation_id, new_sku


async def test_reserve_holds_units_and_publishes_reserved(inventory: Inventory) -> None:
    a, b = new_sku(), new_sku()
    await inventory.set_stock(a, 10)
    await inventory.set_stock(b, 5)
    before = await inventory.counts()

    reservation_id = new_reservation_id()
    response = await inventory.reserve([(b, 2), (a, 3)], reservation_id=reservation_id, ttl_seconds=600)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{API}/reservations/{reservation_id}"
    body = Reservation.model_validate(response.json())
    assert body.id == reservation_id and body.status == "held"
    assert [(item.sku, item.quantity) for item in body.items] == sorted([(a, 3), (b, 2)])
    remaining = (body.expires_at - datetime.now(UTC)).total_seconds()
    assert 590 < remaining <= 600

    assert await inventory.stock(a) == {"sku": a, "on_hand": 10, "reserved": 3, "available": 7}
    assert await inventory.stock(b) == {"sku": b, "on_hand": 5, "reserved": 2, "available": 3}
    after = await inventory.counts()
    assert after["reservations"] == before["reservations"] + 1
    assert after["reservation_items"] == before["reservation_items"] + 2
    assert after["outbox"] == before["outbox"] + 1
    event = StockReserved.model_validate((await inventory.events(STOCK_RESERVED))[-1]["data"])
    assert event.reservation_id == reservation_id and event.expires_at == body.expires_at

    read = await inventory.client.get(f"{API}/reservations/{reservation_id}", headers=inventory.service_headers)
    assert read.status_code == 200 and read.json() == response.json()


async def test_default_ttl_comes_from_settings(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 1)
    response = await inventory.reserve([(sku, 1)])
    assert response.status_code == 201, response.text
    remaining = (Reservation.model_validate(response.json()).expires_at - datetime.now(UTC)).total_seconds()
    assert 3590 < remaining <= 3600  # the fixture's reservation_ttl_seconds


async def test_same_reservation_id_again_answers_the_existing_one(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 4)
    reservation_id = new_reservation_id()
    first = await inventory.reserve([(sku, 3)], reservation_id=reservation_id)
    assert first.status_code == 201
    before = await inventory.counts()

    again = await inventory.reserve([(sku, 3)], reservation_id=reservation_id)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await inventory.counts() == before
    assert (await inventory.stock(sku))["reserved"] == 3

    # the same id with other lines is a mistake, not a repeat: 409, nothing changes
    other = await inventory.reserve([(sku, 1)], reservation_id=reservation_id)
    assert other.status_code == 409
    assert [error["field"] for error in other.json()["errors"]] == ["reservation_id"]
    assert await inventory.counts() == before


async def test_concurrent_repeats_of_one_reservation_hold_once(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 50)
    reservation_id = new_reservation_id()
    responses = await asyncio.gather(*(inventory.reserve([(sku, 2)], reservation_id=reservation_id) for _ in range(10)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 9 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    assert len({response.text for response in responses}) == 1
    assert (await inventory.stock(sku))["reserved"] == 2


async def test_commit_takes_units_off_hand_once(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 10)
    reservation_id = new_reservation_id()
    assert (await inventory.reserve([(sku, 4)], reservation_id=reservation_id)).status_code == 201

    committed = await inventory.action(reservation_id, "commit")
    assert committed.status_code == 200, committed.text
    assert committed.json()["status"] == "committed"
    assert await inventory.stock(sku) == {"sku": sku, "on_hand": 6, "reserved": 0, "available": 6}
    assert (await inventory.events(STOCK_COMMITTED))[-1]["data"]["reservation_id"] == reservation_id

    before = await inventory.counts()
    again = await inventory.action(reservation_id, "commit")
    assert again.status_code == 200 and again.json() == committed.json()
    assert await inventory.counts() == before


async def test_concurrent_commits_apply_once(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 10)
    reservation_id = new_reservation_id()
    await inventory.reserve([(sku, 3)], reservation_id=reservation_id)
    events_before = len(await inventory.events(STOCK_COMMITTED))

    responses = await asyncio.gather(*(inventory.action(reservation_id, "commit") for _ in range(8)))
    assert {response.status_code for response in responses} == {200}
    assert await inventory.stock(sku) == {"sku": sku, "on_hand": 7, "reserved": 0, "available": 7}
    assert len(await inventory.events(STOCK_COMMITTED)) == events_before + 1


async def test_release_of_held_gives_units_back_and_is_idempotent(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 10)
    reservation_id = new_reservation_id()
    await inventory.reserve([(sku, 4)], reservation_id=reservation_id)

    released = await inventory.action(reservation_id, "release")
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert await inventory.stock(sku) == {"sku": sku, "on_hand": 10, "reserved": 0, "available": 10}
    event = StockReleased.model_validate((await inventory.events(STOCK_RELEASED))[-1]["data"])
    assert event.reservation_id == reservation_id and event.reason == "released"

    before = await inventory.counts()
    again = await inventory.action(reservation_id, "release")
    assert again.status_code == 200 and again.json() == released.json()
    assert await inventory.counts() == before

    # a released reservation can no longer be committed
    refused = await inventory.action(reservation_id, "commit")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in refused.json()["errors"]] == ["status"]
    assert await inventory.counts() == before


async def test_release_of_committed_restocks(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 10)
    reservation_id = new_reservation_id()
    await inventory.reserve([(sku, 4)], reservation_id=reservation_id)
    await inventory.action(reservation_id, "commit")
    assert (await inventory.stock(sku))["on_hand"] == 6

    restocked = await inventory.action(reservation_id, "release")
    assert restocked.status_code == 200 and restocked.json()["status"] == "released"
    assert await inventory.stock(sku) == {"sku": sku, "on_hand": 10, "reserved": 0, "available": 10}
    event = StockReleased.model_validate((await inventory.events(STOCK_RELEASED))[-1]["data"])
    assert event.reason == "restocked"

    # concurrent repeats restock nothing more
    responses = await asyncio.gather(*(inventory.action(reservation_id, "release") for _ in range(5)))
    assert {response.status_code for response in responses} == {200}
    assert (await inventory.stock(sku))["on_hand"] == 10


async def test_concurrent_commit_and_release_one_wins(inventory: Inventory) -> None:
    """Whichever applies first, the other sees its result: never both a hold ended and units shipped."""
    sku = new_sku()
    await inventory.set_stock(sku, 10)
    for _ in range(5):
        reservation_id = new_reservation_id()
        await inventory.reserve([(sku, 1)], reservation_id=reservation_id)
        commit, release = await asyncio.gather(
            inventory.action(reservation_id, "commit"), inventory.action(reservation_id, "release")
        )
        assert release.status_code == 200
        # commit first then release = restock; release first then commit = 409
        assert commit.status_code in (200, 409)
        assert await inventory.status(reservation_id) == "released"
    assert await inventory.stock(sku) == {"sku": sku, "on_hand": 10, "reserved": 0, "available": 10}


async def test_sweep_expires_only_due_holds(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 10)
    due, later, committed = new_reservation_id(), new_reservation_id(), new_reservation_id()
    for reservation_id in (due, later, committed):
        assert (await inventory.reserve([(sku, 2)], reservation_id=reservation_id, ttl_seconds=60)).status_code == 201
    await inventory.action(committed, "commit")
    await inventory.move_expiry(due, -120)
    await inventory.move_expiry(committed, -120)

    context = inventory.context
    expired = await release_expired(context)
    assert expired == 1
    assert await inventory.status(due) == "expired"
    assert await inventory.status(later) == "held"
    assert await inventory.status(committed) == "committed"
    assert await inventory.stock(sku) == {"sku": sku, "on_hand": 8, "reserved": 2, "available": 6}
    event = StockReleased.model_validate((await inventory.events(STOCK_RELEASED))[-1]["data"])
    assert event.reservation_id == due and event.reason == "expired"

    # an expired reservation is over: commit is refused, release answers it unchanged
    before = await inventory.counts()
    assert (await inventory.action(due, "commit")).status_code == 409
    release = await inventory.action(due, "release")
    assert release.status_code == 200 and release.json()["status"] == "expired"
    assert await release_expired(context) == 0
    assert await inventory.counts() == before


async def test_sweep_runs_in_batches_and_two_sweepers_release_each_once(inventory: Inventory) -> None:
    a, b = new_sku(), new_sku()
    await inventory.set_stock(a, 100)
    await inventory.set_stock(b, 100)
    ids = [new_reservation_id() for _ in range(25)]
    for index, reservation_id in enumerate(ids):
        lines = [(a, 1), (b, 2)] if index % 2 else [(b, 1)]
        assert (await inventory.reserve(lines, reservation_id=reservation_id)).status_code == 201
    released_before = len(await inventory.events(STOCK_RELEASED))

    context = inventory.context
    later = datetime.now(UTC) + timedelta(hours=2)  # every hold above is due by then
    results = await asyncio.gather(
        release_expired(context, batch_size=4, now=later),
        release_expired(context, batch_size=4, now=later),
    )
    # whatever each sweeper found, together they expired each reservation exactly once (earlier
    # tests' holds are due by then too, so count by event rather than expect a total)
    remaining = await release_expired(context, batch_size=4, now=later)
    released = [event["data"]["reservation_id"] for event in (await inventory.events(STOCK_RELEASED))[released_before:]]
    assert sum(results) + remaining == len(released) >= len(ids)
    assert len(set(released)) == len(released) and set(ids) <= set(released)
    assert {await inventory.status(reservation_id) for reservation_id in ids} == {"expired"}
    assert (await inventory.stock(a))["reserved"] == 0
    assert (await inventory.stock(b))["reserved"] == 0


async def test_admin_may_read_commit_and_release(inventory: Inventory) -> None:
    sku = new_sku()
    await inventory.set_stock(sku, 3)
    reservation_id = new_reservation_id()
    await inventory.reserve([(sku, 1)], reservation_id=reservation_id)
    read = await inventory.client.get(f"{API}/reservations/{reservation_id}", headers=inventory.admin_headers)
    assert read.status_code == 200
    released = await inventory.action(reservation_id, "release", headers=inventory.admin_headers)
    assert released.status_code == 200 and released.json()["status"] == "released"


async def test_unknown_reservation_is_404(inventory: Inventory) -> None:
    before = await inventory.counts()
    missing = new_reservation_id()
    for verb in ("commit", "release"):
        response = await inventory.action(missing, verb)
        assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    read = await inventory.client.get(f"{API}/reservations/{missing}", headers=inventory.service_headers)
    assert read.status_code == 404
    assert await inventory.counts() == before
