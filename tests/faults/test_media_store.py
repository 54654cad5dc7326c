"""The media store's directory unwritable (immutable, so even root cannot write) during a load of
checkouts and uploads: uploads are refused cleanly, checkouts do not notice, nothing half-made stays."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.fault_shop import ADMIN_PASSWORD, FaultShop
from tests.support.shop import png

pytestmark = [
    pytest.mark.faults,
    pytest.mark.backend("postgresql"),
    pytest.mark.backend("redis"),
    pytest.mark.backend("nats"),
    pytest.mark.timeout(300),
]


def immutable(directory: Path, on: bool) -> None:
    """``chattr -R +i``: no new entry in any directory of the store, whoever asks (root included)."""
    subprocess.run(["chattr", "-R", "+i" if on else "-i", str(directory)], check=True, timeout=30)


async def test_media_store_unwritable(shop: FaultShop) -> None:
    store = shop.directory / "var" / "media"
    refused: list[int] = []
    stored: list[str] = []

    async with shop.client() as client:
        admin = await shop.login(client, shop.admin_email, ADMIN_PASSWORD)
        stop = asyncio.Event()

        async def upload_until_stopped() -> None:
            while not stop.is_set():
                image = png(64 + len(stored) + len(refused), 48)  # a new image each time: no deduplication
                form = {"files": {"file": (f"{uuid.uuid4().hex}.png", image)}, "data": {"purpose": "product"}}
                answer = await client.post(shop.url("/api/media/images"), headers=admin, **form)
                if answer.status_code == 201:
                    stored.append(answer.json()["id"])
                else:
                    assert answer.headers["content-type"] == "application/problem+json", answer.text
                    assert answer.status_code in (429, 503, 507), answer.text
                    refused.append(answer.status_code)
                    await asyncio.sleep(0.5)  # told to come back later

        uploader = asyncio.create_task(upload_until_stopped())
        try:

            async def breaks() -> None:
                await asyncio.to_thread(immutable, store, True)
                started = len(refused)
                deadline = time.monotonic() + 30
                while len(refused) == started:  # the next upload meets the fault
                    assert time.monotonic() < deadline, "no upload was refused while the store was unwritable"
                    await asyncio.sleep(0.1)  # the uploader is another task of this loop: its list is polled

            async def heals() -> None:
                await asyncio.to_thread(immutable, store, False)

            try:
                await shop.under_fault("media store unwritable", breaks, heals, down_for=5)
            finally:
                await asyncio.to_thread(immutable, store, False)
            count = len(stored)
            deadline = time.monotonic() + 60
            while len(stored) == count:  # uploads work again, with no restart
                assert time.monotonic() < deadline, "no upload stored after the store was writable again"
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.wait_for(uploader, timeout=60)
        print(f"uploads: {len(stored)} stored, {len(refused)} refused ({sorted(set(refused))})")
        assert refused and stored
        for image_id in stored:  # every stored image is whole: its row and its object
            got = await client.get(shop.url(f"/api/media/images/{image_id}"))
            assert got.status_code in (200, 302), (image_id, got.status_code)
