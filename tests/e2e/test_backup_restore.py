"""`agora backup` and `agora restore` as an operator uses them: a shop where users registered, paid
orders, an admin uploaded an image and a customer wrote to support is backed up while it runs,
wiped, restored, and started again: the same users log in, their orders, the image and the chat
are there, and a new checkout works. Once with embedded mode's stores (SQLite files, a local
directory), once with a database per service on PostgreSQL, the carts in Redis and the images in
an S3 bucket."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agora.platform.testing.databases import POSTGRES_URL, create_database, drop_database
from agora.platform.testing.processes import (
    agora_command,
    create_admin,
    free_port,
    running_process,
    wait_until_ready,
)
from agora.platform.testing.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, running_moto_server
from agora.platform.testing.waiting import polled
from agora.topology import SERVICE_NAMES
from tests.support.shop import ADDRESS, GOOD_CARD, SHOPPER_PASSWORD, png, register_shopper

pytestmark = pytest.mark.slow

ADMIN = ("ops@example.org", "operator passphrase 1")
BASE_ENV = {"AGORA_ENVIRONMENT": "development", "AGORA_LOG_LEVEL": "WARNING"}


@dataclass
class Left:
    """What the journey left behind, to find again after the restore."""

    orders: dict[str, list[str]] = field(default_factory=dict)
    """Each shopper's email and paid order ids."""
    image_id: str = ""
    image: bytes = b""
    conversation_id: str = ""
    message: str = ""
    cart_owner: str = ""
    """The shopper who left a product in the cart."""
    cart_product: str = ""


def agora(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agora_command(*args),
        env={**os.environ, **BASE_ENV, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def shop(directory: Path, env: dict[str, str], *, log: str, seed: bool = True) -> Iterator[str]:
    """``agora up`` on a free port with its data in ``directory / "var"``; stopped on exit."""
    port = free_port()
    command = agora_command("up", "--port", str(port), "--data-dir", str(directory / "var"))
    command.append("--seed" if seed else "--no-seed")
    with running_process(command, log_path=directory / log, env={**BASE_ENV, **env}) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=120, process=process)
        yield base


def login(client: httpx.Client, email: str, password: str = SHOPPER_PASSWORD) -> dict[str, str]:
    response = client.post("/api/identity/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def checkout(client: httpx.Client, auth: dict[str, str]) -> str:
    paid = client.post(
        "/api/orders/checkout",
        json={"currency": "USD", "shipping_address": ADDRESS, "card": GOOD_CARD},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert paid.status_code == 201, paid.text
    order = client.get(f"/api/orders/{paid.json()['id']}", headers=auth).json()
    assert order["status"] == "paid", order
    return str(order["id"])


def products(client: httpx.Client, *, seeded: bool) -> list[str]:
    """Two products with stock: the demo data's, or two the admin adds (a shop started without it)."""
    if seeded:
        items = client.get("/api/catalog/products", params={"limit": 2}).json()["items"]
    else:
        admin = login(client, *ADMIN)
        category = client.post("/api/catalog/categories", json={"slug": "lamps", "name": "Lamps"}, headers=admin)
        assert category.status_code == 201, category.text
        items = []
        for number in (1, 2):
            product = {
                "sku": f"BACKUP-{number}",
                "name": f"Lamp {number}",
                "price": {"amount": 1999, "currency": "USD"},
            }
            created = client.post("/api/catalog/products", json={**product, "category": "lamps"}, headers=admin)
            assert created.status_code == 201, created.text
            items.append(created.json())
    for item in items:
        polled(lambda sku=item["sku"]: client.get(f"/api/inventory/stock/{sku}").status_code == 200, what="stock")
        if not seeded:
            counted = client.put(f"/api/inventory/stock/{item['sku']}", json={"on_hand": 50}, headers=admin)
            assert counted.status_code == 200, counted.text
    return [item["id"] for item in items]


def journey(base: str, *, seeded: bool = True) -> Left:
    left = Left()
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as client:
        first, second = products(client, seeded=seeded)
        for _ in range(2):
            email, auth = register_shopper(client)
            assert client.post("/api/cart/items", json={"product_id": first, "quantity": 1}, headers=auth).is_success
            left.orders[email] = [checkout(client, auth)]
        # the last shopper leaves a product in the cart, and writes to support
        added = client.post("/api/cart/items", json={"product_id": second, "quantity": 2}, headers=auth)
        assert added.is_success, added.text
        left.cart_owner, left.cart_product = email, second
        opened = client.post("/api/support/conversations", json={"subject": "Where is my parcel?"}, headers=auth)
        assert opened.status_code == 201, opened.text
        left.conversation_id, left.message = opened.json()["id"], f"Order {left.orders[email][0]} please"
        sent = client.post(
            f"/api/support/conversations/{left.conversation_id}/messages", json={"body": left.message}, headers=auth
        )
        assert sent.status_code == 201, sent.text

        uploaded = client.post(
            "/api/media/images",
            files={"file": ("poster.png", png(96, 64), "image/png")},
            data={"purpose": "product"},
            headers=login(client, *ADMIN),
        )
        assert uploaded.status_code == 201, uploaded.text
        left.image_id = uploaded.json()["id"]
        image = client.get(f"/api/media/images/{left.image_id}")
        assert image.status_code == 200
        left.image = image.content
    return left


def everything_is_back(base: str, left: Left) -> None:
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as client:
        for email, orders in left.orders.items():
            auth = login(client, email)
            listed = client.get("/api/orders", headers=auth).json()["items"]
            assert {order["id"]: order["status"] for order in listed} == dict.fromkeys(orders, "paid")
        image = client.get(f"/api/media/images/{left.image_id}")
        assert image.status_code == 200 and image.content == left.image
        assert client.get(f"/api/media/images/{left.image_id}/thumbnail", params={"size": "small"}).is_success

        auth = login(client, left.cart_owner)
        messages = client.get(f"/api/support/conversations/{left.conversation_id}/messages", headers=auth)
        assert messages.status_code == 200, messages.text
        assert left.message in [item["body"] for item in messages.json()["items"]]
        cart = client.get("/api/cart", headers=auth).json()
        assert [(line["product_id"], line["quantity"]) for line in cart["items"]] == [(left.cart_product, 2)]
        # the shop sells again: the restored cart checks out, as does a new customer's
        checkout(client, auth)
        _, newcomer = register_shopper(client)
        product = client.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]["id"]
        assert client.post("/api/cart/items", json={"product_id": product, "quantity": 1}, headers=newcomer).is_success
        checkout(client, newcomer)


class Clock:
    """Prints the seconds since the test began at each step (shown with -s, and on failure)."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, step: str) -> None:
        print(f"{time.monotonic() - self.started:6.1f}s {step}")


def restored_from(backup: subprocess.CompletedProcess[str]) -> Path:
    assert backup.returncode == 0, backup.stdout + backup.stderr
    return Path(backup.stdout.strip().splitlines()[-1])


@pytest.mark.backend("sqlite")
@pytest.mark.timeout(200)
def test_embedded_round_trip(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    clock = Clock()
    create_admin(ADMIN[0], data_dir=str(data_dir), env={**BASE_ENV, "AGORA_ADMIN_PASSWORD": ADMIN[1]})
    with shop(tmp_path, {}, log="before.log") as base:
        clock("admin created, shop ready")
        left = journey(base)
        clock("journey")
        # online: the platform keeps serving while it is saved
        backup = restored_from(agora("backup", "--to", str(tmp_path / "backups"), "--data-dir", str(data_dir), env={}))
        clock("backed up")
        running = agora("restore", str(backup), "--yes", "--data-dir", str(data_dir), env={})
        assert running.returncode == 1 and "the platform is running" in running.stderr, running.stderr
        assert "nothing was changed" in running.stderr
        clock("restore refused while running")
    shutil.rmtree(data_dir)

    restored = agora("restore", str(backup), "--yes", "--data-dir", str(data_dir), env={})
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "media-objects" in restored.stdout and "orders" in restored.stdout
    clock("wiped and restored")
    with shop(tmp_path, {}, log="after.log") as base:
        clock("shop ready again")
        everything_is_back(base, left)
    clock("all back, checkouts work")


async def _wipe_databases(urls: dict[str, str]) -> None:
    for url in urls.values():
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()


async def _wipe_bucket_and_carts(env: dict[str, str]) -> None:
    import aioboto3
    from redis.asyncio import Redis

    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=env["AGORA_MEDIA_S3_ENDPOINT_URL"],
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name="us-east-1",
    ) as s3:
        bucket = env["AGORA_MEDIA_S3_BUCKET"]
        listed = await s3.list_objects_v2(Bucket=bucket)
        for item in listed.get("Contents", []):
            await s3.delete_object(Bucket=bucket, Key=item["Key"])
        await s3.delete_bucket(Bucket=bucket)
    redis = Redis.from_url(env["AGORA_REDIS_URL"])
    try:
        keys = [key async for key in redis.scan_iter(match=env["AGORA_CART_REDIS_KEY_PREFIX"] + "*")]
        assert keys, "the journey left a cart in Redis"
        await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
def postgres_databases() -> Iterator[dict[str, str]]:
    urls: dict[str, str] = {}
    try:
        for name in SERVICE_NAMES:
            urls[name] = asyncio.run(create_database(POSTGRES_URL, "postgresql"))
        yield urls
    finally:
        for url in urls.values():
            asyncio.run(drop_database(POSTGRES_URL, "postgresql", url))


@pytest.mark.backend("postgresql")
@pytest.mark.backend("redis")
@pytest.mark.timeout(240)
def test_postgresql_redis_and_s3_round_trip(tmp_path: Path, postgres_databases: dict[str, str]) -> None:
    data_dir = tmp_path / "var"
    with running_moto_server(tmp_path) as moto_url:
        env = {
            **{f"AGORA_{name.upper()}_DATABASE_URL": url for name, url in postgres_databases.items()},
            # a Redis database of its own, so rate limits and carts of other runs stay apart
            "AGORA_REDIS_URL": f"redis://127.0.0.1:6379/{uuid.uuid4().int % 15 + 1}",
            "AGORA_CART_REDIS_KEY_PREFIX": f"agora-backup-{uuid.uuid4().hex[:8]}:",
            "AGORA_MEDIA_S3_BUCKET": f"agora-backup-{uuid.uuid4().hex[:8]}",
            "AGORA_MEDIA_S3_ENDPOINT_URL": moto_url,
            "AGORA_MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AGORA_MEDIA_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AGORA_MEDIA_S3_PRESIGN": "false",
        }
        clock = Clock()
        create_admin(ADMIN[0], data_dir=str(data_dir), env={**BASE_ENV, **env, "AGORA_ADMIN_PASSWORD": ADMIN[1]})
        # without the demo data: on PostgreSQL its events take the most of a start-up on a busy machine
        with shop(tmp_path, env, log="before.log", seed=False) as base:
            clock("admin created, shop ready")
            left = journey(base, seeded=False)
            clock("journey")
            backup = restored_from(agora("backup", "--to", str(tmp_path / "backups"), env=env))
            clock("backed up")
        # the embedded broker's journal is the one SQLite file left
        assert sorted(path.name for path in backup.iterdir() if path.suffix != ".pgdump") == [
            "broker.sqlite", "carts.jsonl", "manifest.json", "media-objects.tar"
        ]  # fmt: skip
        asyncio.run(_wipe_databases(postgres_databases))
        asyncio.run(_wipe_bucket_and_carts(env))
        shutil.rmtree(data_dir)

        clock("wiped")
        restored = agora("restore", str(backup), "--yes", env=env)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        clock("restored")
        with shop(tmp_path, env, log="after.log", seed=False) as base:
            clock("shop ready again")
            everything_is_back(base, left)
        clock("all back, checkouts work")
