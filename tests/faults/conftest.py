"""One shop for every fault test, stopped after the last of them: starting ten processes costs
about a minute, so the faults take turns on it (each test heals its fault and checks the
invariants before the next one starts). The Kafka-protocol broker's outage has a shop of its own
(``kafka_shop``), started for that test only and stopped before the shared one starts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.fault_shop import FaultShop, fault_shop


@pytest.fixture(scope="package")
def shop_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultShop]:
    """The servers and the services; a missing PostgreSQL, Redis or NATS binary fails the tests."""
    with fault_shop(tmp_path_factory.mktemp("fault-shop")) as shop:
        yield shop


@pytest.fixture(scope="package")
async def shop(shop_servers: FaultShop) -> AsyncIterator[FaultShop]:
    """The shop with the proxy between orders and payments listening (in the tests' event loop)."""
    async with shop_servers.proxying() as proxied:
        yield proxied


@pytest.fixture
def kafka_shop_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultShop]:
    """The same shop with its events on tansu (Kafka protocol) instead of NATS."""
    with fault_shop(tmp_path_factory.mktemp("kafka-fault-shop"), broker="kafka") as shop:
        yield shop


@pytest.fixture
async def kafka_shop(kafka_shop_servers: FaultShop) -> AsyncIterator[FaultShop]:
    async with kafka_shop_servers.proxying() as proxied:
        yield proxied
