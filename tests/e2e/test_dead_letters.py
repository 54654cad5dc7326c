"""An operator lists the events a consumer gave up on and replays one once the cause is fixed."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from agora.contracts.catalog import PRODUCT_CREATED
from agora.platform.messaging import Envelope
from agora.platform.runtime import migrate_service, service_context
from agora.platform.settings import Environment, PlatformSettings
from agora.platform.testing.processes import agora_command
from agora.services import inventory

pytestmark = pytest.mark.backend("sqlite")

PRODUCT = {
    "id": "7d7d7d7d-0000-4000-8000-000000000001",
    "sku": "DLQ-0001",
    "name": "Parked Lamp",
    "description": "",
    "price": {"amount": 4999, "currency": "USD"},
    "category": {"id": "c1", "slug": "home", "name": "Home"},
    "tags": [],
    "images": [],
    "active": True,
    "version": 1,
    "created_at": "2026-11-21T00:00:00Z",
    "updated_at": "2026-11-21T00:00:00Z",
}


async def park_an_event(platform: PlatformSettings) -> str:
    """The inventory consumer meets a broken table: five attempts, then the event is parked."""
    await migrate_service(inventory.spec, platform)
    async with service_context(inventory.spec, platform) as context:
        async with context.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE stock RENAME TO stock_away"))
        (consumer,) = inventory.spec.consumers(context)
        envelope = Envelope(type=PRODUCT_CREATED, source="agora/catalog", data={"product": PRODUCT, "demo": False})
        await consumer.dispatch(envelope)
        async with context.engine.begin() as connection:  # the cause is fixed
            await connection.execute(text("ALTER TABLE stock_away RENAME TO stock"))
        return envelope.id


def agora(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGORA_DATA_DIR": str(data_dir), "AGORA_ENVIRONMENT": "development", "COLUMNS": "200"}
    return subprocess.run(agora_command(*args), env=env, capture_output=True, text=True, timeout=120)


def test_list_then_replay_a_dead_letter(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    platform = PlatformSettings(environment=Environment.test, data_dir=data_dir)
    asyncio.run(park_an_event(platform))

    listed = agora("dead-letters", "inventory", data_dir=data_dir)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "catalog.product.created" in listed.stdout and "1 dead letter(s)." in listed.stderr
    letter_id = next(line.split("│")[2].strip() for line in listed.stdout.splitlines() if "catalog.product" in line)

    replayed = agora("replay-dead-letter", "inventory", letter_id, data_dir=data_dir)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr

    async def stock() -> int | None:
        async with service_context(inventory.spec, platform) as context, context.sessions() as session:
            return await session.scalar(text("SELECT on_hand FROM stock WHERE sku = 'DLQ-0001'"))

    assert asyncio.run(stock()) == 0  # the handler ran: a real product starts at 0 units
    after = agora("dead-letters", "inventory", data_dir=data_dir)
    assert "0 dead letter(s)." in after.stderr
    again = agora("replay-dead-letter", "inventory", "999999", data_dir=data_dir)
    assert again.returncode == 1 and "no dead letter 999999" in again.stdout + again.stderr
