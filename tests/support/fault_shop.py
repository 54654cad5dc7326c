"""The shop as a cluster runs it, on servers the fault tests own and may break.

Every service of the checkout (and notifications, media) is its own ``agora serve`` process, on a
private PostgreSQL (a database each), a private Redis (carts, fan-out) and a private broker for
the events: NATS with JetStream on disk, or tansu (the Kafka protocol) keeping its log in a private
S3 server (moto), so either comes back from a stop with what it held. Orders reaches payments
through a :class:`TcpProxy` the test controls, so a partition between the two is a real network
fault. Nothing in the services knows a test runs.

The load is real HTTP: registered shoppers add to their carts and check out with the test card,
as many at once as asked, while the test breaks something; :class:`LoadFigures` counts what came
back. :mod:`tests.support.invariants` then reads the databases and says what must hold.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import asyncpg
import httpx

from agora.platform.testing.brokers import PrivateNats, durable_tansu
from agora.platform.testing.postgres import PrivatePostgres
from agora.platform.testing.processes import (
    agora_command,
    create_admin,
    free_port_block,
    running_process,
    wait_until_ready,
)
from tests.support import invariants
from tests.support.backends import PrivateRedis, TcpProxy
from tests.support.shop import ADDRESS, GOOD_CARD, SHOPPER_PASSWORD

SERVICES = (
    "identity", "catalog", "inventory", "cart", "currency", "shipping", "payments", "orders", "notifications", "media",
)  # fmt: skip
ADMIN_PASSWORD = "a long enough admin passphrase"
#: Stock each product gets before a load: no checkout fails for want of it.
STOCK = 10_000
#: A clean failure: the saga refused or could not finish, said so in problem+json, and undid its work.
CLEAN_FAILURES = frozenset({402, 409, 422, 429, 502, 503, 504})


class Broker(Protocol):
    """A broker the test owns: stopped and started again on the same port, its storage kept."""

    url: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Shopper:
    email: str
    headers: dict[str, str]


@dataclass
class LoadFigures:
    attempted: int = 0
    paid: int = 0
    failed_cleanly: int = 0
    #: adds to cart refused cleanly (the cart's store down): the shopper never got to check out
    carts_refused: int = 0
    unclean: list[str] = field(default_factory=list)
    #: how checkouts were answered: ``{201: 40, 503: 12}``
    answers: Counter[int] = field(default_factory=Counter)
    #: monotonic time of each paid answer, to measure the recovery after a fault ends
    paid_at: list[float] = field(default_factory=list)
    _progress: asyncio.Event = field(default_factory=asyncio.Event)

    def count_paid(self) -> None:
        self.paid += 1
        self.paid_at.append(time.monotonic())
        self._progress.set()

    async def paid_more(self, count: int, *, within: float) -> None:
        """Waits until ``count`` more checkouts are paid than now."""
        target = self.paid + count

        async def reached() -> None:
            while self.paid < target:
                self._progress.clear()
                await self._progress.wait()

        try:
            await asyncio.wait_for(reached(), timeout=within)
        except TimeoutError:
            raise AssertionError(f"{self.paid} paid, not {target}, within {within:g}s") from None

    def recovered_after(self, healed_at: float) -> float | None:
        later = [moment for moment in self.paid_at if moment >= healed_at]
        return min(later) - healed_at if later else None

    def line(self, fault: str, healed_at: float) -> str:
        recovery = self.recovered_after(healed_at)
        took = f"{recovery:.1f} s" if recovery is not None else "never"
        return (
            f"FAULT {fault}: {self.attempted} checkouts attempted, {self.paid} paid, "
            f"{self.failed_cleanly} failed cleanly, {len(self.unclean)} unclean "
            f"(answers {dict(sorted(self.answers.items()))}), {self.carts_refused} adds to cart refused; "
            f"first paid after healing: {took}"
        )


@dataclass
class FaultShop:
    directory: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    broker: Broker
    proxy: TcpProxy
    ports: dict[str, int]
    databases: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)
    admin_email: str = ""
    products: list[dict[str, Any]] = field(default_factory=list)
    regulars: list[Shopper] = field(default_factory=list)

    def url(self, path: str) -> str:
        """``/api/<service>/...`` on that service's own process (what the front would route)."""
        service = path.split("/")[2]
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        return httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=limits)

    async def login(self, client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
        response = await client.post(self.url("/api/identity/login"), json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def shoppers(self, client: httpx.AsyncClient, count: int) -> list[Shopper]:
        async def one() -> Shopper:
            email = f"shopper-{uuid.uuid4().hex[:10]}@example.com"
            body = {"email": email, "password": SHOPPER_PASSWORD, "display_name": "Shopper"}
            registered = await client.post(self.url("/api/identity/register"), json=body)
            assert registered.status_code == 201, registered.text
            return Shopper(email, await self.login(client, email, SHOPPER_PASSWORD))

        return list(await asyncio.gather(*(one() for _ in range(count))))

    async def restock(self, client: httpx.AsyncClient) -> None:
        """Every product the load buys gets :data:`STOCK` on hand (the stock rows come from catalog's
        events, so they are awaited first)."""
        admin = await self.login(client, self.admin_email, ADMIN_PASSWORD)
        if not self.products:
            listed = await client.get(self.url("/api/catalog/products"), params={"limit": 3})
            assert listed.status_code == 200, listed.text
            self.products = listed.json()["items"]
        deadline = time.monotonic() + 60
        for product in self.products:
            while (await client.get(self.url(f"/api/inventory/stock/{product['sku']}"))).status_code != 200:
                assert time.monotonic() < deadline, f"no stock row for {product['sku']}"
                await asyncio.sleep(0.25)  # another process consumes catalog's event: nothing to await here
            body = {"on_hand": STOCK}
            put = await client.put(self.url(f"/api/inventory/stock/{product['sku']}"), json=body, headers=admin)
            assert put.status_code == 200, put.text

    async def shop_until(
        self, client: httpx.AsyncClient, shoppers: list[Shopper], stop: asyncio.Event, figures: LoadFigures
    ) -> None:
        """Each shopper in turn fills the cart and checks out, until ``stop`` is set."""

        async def one(number: int, shopper: Shopper) -> None:
            while not stop.is_set():
                product = self.products[number % len(self.products)]
                try:
                    await self._checkout_once(client, shopper, product, figures)
                except httpx.HTTPError as exc:
                    # the shop's own processes never went away: no answer at all is not clean
                    figures.unclean.append(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.5)

        await asyncio.gather(*(one(number, shopper) for number, shopper in enumerate(shoppers)))

    async def _checkout_once(
        self, client: httpx.AsyncClient, shopper: Shopper, product: dict[str, Any], figures: LoadFigures
    ) -> None:
        line = {"product_id": product["id"], "quantity": 1}
        added = await client.post(self.url("/api/cart/items"), json=line, headers=shopper.headers)
        if added.status_code not in (200, 201):
            self._judge(added, figures, what="add to cart")
            await asyncio.sleep(0.5)  # the cart's store is down: a shopper waits before trying again
            return
        figures.attempted += 1
        body = {"currency": "EUR", "shipping_address": ADDRESS, "card": GOOD_CARD}
        headers = {**shopper.headers, "Idempotency-Key": str(uuid.uuid4())}
        answer = await client.post(self.url("/api/orders/checkout"), json=body, headers=headers)
        figures.answers[answer.status_code] += 1
        if answer.status_code == 201:
            figures.count_paid()
            return
        self._judge(answer, figures, what="checkout")
        if answer.status_code in CLEAN_FAILURES and answer.status_code != 402:
            await asyncio.sleep(0.5)  # a shopper told to come back later does so after a moment

    @staticmethod
    def _judge(answer: httpx.Response, figures: LoadFigures, *, what: str) -> None:
        problem = answer.headers.get("content-type", "").startswith("application/problem+json")
        if answer.status_code in CLEAN_FAILURES and problem:
            if what == "checkout":
                figures.failed_cleanly += 1
            else:
                figures.carts_refused += 1
            return
        figures.unclean.append(f"{what}: {answer.status_code} {answer.text[:300]}")

    @asynccontextmanager
    async def loaded(self, client: httpx.AsyncClient, shoppers: list[Shopper]) -> AsyncIterator[LoadFigures]:
        """Shoppers check out for as long as the block runs (the fault happens inside it)."""
        figures, stop = LoadFigures(), asyncio.Event()
        task = asyncio.create_task(self.shop_until(client, shoppers, stop, figures))
        try:
            yield figures
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=120)

    async def ready(self, *, within: float = 60.0) -> None:
        """Every process answers ``/readyz`` 200 (polled: each recovers on its own)."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=10) as client:
            for name, port in self.ports.items():
                while True:
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, f"{name} not ready {within:g}s after the fault"
                    await asyncio.sleep(0.25)  # another process's state: nothing to await

    async def under_fault(
        self,
        fault: str,
        breaks: Callable[[], Awaitable[None]],
        heals: Callable[[], Awaitable[None]],
        *,
        down_for: float,
        shoppers: int = 4,
    ) -> LoadFigures:
        """Shoppers check out; the fault starts once some are paid, lasts ``down_for`` seconds and
        heals; the load goes on until checkouts are paid again; then every invariant must hold,
        every process must still be the one started and ready. Prints the figures."""
        async with self.client() as client:
            if len(self.regulars) < shoppers:  # registering hashes passwords: done once for all tests
                self.regulars += await self.shoppers(client, shoppers - len(self.regulars))
            await self.restock(client)
            before = await invariants.baseline(self.databases)
            async with self.loaded(client, self.regulars[:shoppers]) as figures:
                await figures.paid_more(3, within=60)
                await breaks()
                await asyncio.sleep(down_for)  # the fault's own duration: the load runs meanwhile
                await heals()
                healed_at = time.monotonic()
                await figures.paid_more(3, within=90)
            settling = await invariants.settled(self.databases, before, within=90)
        await self.ready()
        print(f"\n{figures.line(fault, healed_at)}; invariants held {settling:.1f} s after the load")
        assert self.restarted() == [], "a process exited: the platform needed a restart"
        assert not figures.unclean, "answers that were not a clean failure:\n" + "\n".join(figures.unclean[:20])
        return figures

    @asynccontextmanager
    async def proxying(self) -> AsyncIterator[FaultShop]:
        """The proxy between orders and payments listening, in the running event loop."""
        await self.proxy.start()
        try:
            yield self
        finally:
            await self.proxy.close()

    def restarted(self) -> list[str]:
        """Services whose process exited since the start (none may: no manual restart needed)."""
        return [name for name, process in self.processes.items() if process.poll() is not None]


async def _create_databases(server_url: str, names: tuple[str, ...]) -> dict[str, str]:
    connection = await asyncpg.connect(server_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for name in names:
            await connection.execute(f'CREATE DATABASE "agora_{name}"')
    finally:
        await connection.close()
    return {name: server_url.rsplit("/", 1)[0] + f"/agora_{name}" for name in names}


def _private_broker(kind: Literal["nats", "kafka"], directory: Path, stack: ExitStack) -> Broker:
    """NATS with JetStream on disk, or tansu with its log in a bucket of a private moto server."""
    if kind == "kafka":
        return stack.enter_context(durable_tansu(directory))
    broker = PrivateNats(directory / "nats")
    broker.start()
    stack.callback(broker.stop)
    return broker


@contextmanager
def fault_shop(directory: Path, *, broker: Literal["nats", "kafka"] = "nats") -> Iterator[FaultShop]:
    """Starts the servers and the services (about a minute on two cores); stops all of it."""
    with ExitStack() as stack:
        postgres = PrivatePostgres()
        stack.callback(postgres.remove)
        postgres.init().start()
        stack.callback(_quietly, postgres.stop)
        postgres.wait_accepting()
        redis = PrivateRedis(directory / "redis")
        redis.start()
        stack.callback(redis.stop)
        events = _private_broker(broker, directory, stack)

        first = free_port_block(len(SERVICES))
        ports = {name: first + offset for offset, name in enumerate(SERVICES)}
        proxy = TcpProxy(target_port=ports["payments"])
        databases = asyncio.run(_create_databases(postgres.url(), SERVICES))
        shop = FaultShop(directory, postgres, redis, events, proxy, ports, databases)

        env = {
            "AGORA_ENVIRONMENT": "development",
            "AGORA_LOG_LEVEL": "WARNING",
            "AGORA_MODE": "distributed",
            "AGORA_DATA_DIR": str(directory / "var"),
            "AGORA_BROKER_URL": events.url,
            "AGORA_REDIS_URL": redis.url,
            # ten pools on a PostgreSQL that admits 100 connections
            "AGORA_DATABASE_POOL_SHARES": str(len(SERVICES)),
            # an interrupted saga is recovered within seconds, so the test sees the end of it
            "AGORA_ORDERS_LEASE_SECONDS": "5",
            "AGORA_ORDERS_RECOVERY_INTERVAL": "1",
            "AGORA_RELAY_POLL_INTERVAL": "0.5",
            # the media test uploads more than a person would (30 per 10 minutes by default)
            "AGORA_MEDIA_UPLOAD_RATE": "100000",
        }
        for name in SERVICES:
            env[f"AGORA_{name.upper()}_DATABASE_URL"] = databases[name]
            env[f"AGORA_SERVICE_URLS__{name.upper()}"] = f"http://127.0.0.1:{ports[name]}"
        migrated = subprocess.run(
            agora_command("migrate", *SERVICES, "--seed"),
            env={**os.environ, **env},
            capture_output=True,
            timeout=180,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stdout.decode() + migrated.stderr.decode()
        shop.admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        create_admin(
            shop.admin_email, data_dir=env["AGORA_DATA_DIR"], env={**env, "AGORA_ADMIN_PASSWORD": ADMIN_PASSWORD}
        )

        for name in SERVICES:
            own = dict(env)
            if name == "orders":
                own["AGORA_SERVICE_URLS__PAYMENTS"] = proxy.url  # the link the partition test breaks
            command = agora_command("serve", name, "--port", str(ports[name]), "--no-migrate")
            process = stack.enter_context(running_process(command, log_path=directory / f"{name}.log", env=own))
            shop.processes[name] = process
            shop.started[name] = process.pid
        for name in SERVICES:
            url = f"http://127.0.0.1:{ports[name]}/readyz"
            wait_until_ready(url, timeout=180, process=shop.processes[name])
        yield shop


def _quietly(stop: Any) -> None:
    try:
        stop()
    except subprocess.CalledProcessError:
        pass  # already stopped by the test


__all__ = ["CLEAN_FAILURES", "SERVICES", "Broker", "FaultShop", "LoadFigures", "Shopper", "fault_shop"]
