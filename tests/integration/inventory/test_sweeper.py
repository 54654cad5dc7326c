"""The expiry sweep runs by itself: a short hold is given back without anyone asking."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agora.platform.testing.auth import TokenFactory
from agora.services.inventory import InventorySettings

from .conftest import Inventory, new_sku, running_inventory


@pytest.fixture(scope="module")
async def fast_sweeping(
    database_url: str, jwks_file: Path, token_factory: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Inventory]:
    settings = InventorySettings(database_url=database_url, sweep_interval_seconds=0.2)
    data_dir = tmp_path_factory.mktemp("sweeper")
    async with running_inventory(settings, data_dir, jwks_file=jwks_file, token_factory=token_factory) as running:
        yield running


async def test_a_short_hold_expires_on_its_own(fast_sweeping: Inventory) -> None:
    sku = new_sku("TTL")
    await fast_sweeping.set_stock(sku, 3)
    held = await fast_sweeping.reserve([(sku, 2)], ttl_seconds=1)
    assert held.status_code == 201
    assert (await fast_sweeping.stock(sku))["reserved"] == 2
    reservation_id = held.json()["id"]

    deadline = time.monotonic() + 15
    while await fast_sweeping.status(reservation_id) != "expired":
        assert time.monotonic() < deadline, "the sweep never expired the reservation"
        await asyncio.sleep(0.05)
    assert await fast_sweeping.stock(sku) == {"sku": sku, "on_hand": 3, "reserved": 0, "available": 3}
    assert (await fast_sweeping.action(reservation_id, "commit")).status_code == 409
