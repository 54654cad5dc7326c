"""One shop for every fault test, stopped after the last of them: starting ten processes costs
about a minute, so the faults take turns on it (each test heals its fault and checks the
invariants before the next one starts)."""

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
    await shop_servers.proxy.start()
    try:
        yield shop_servers
    finally:
        await shop_servers.proxy.close()
