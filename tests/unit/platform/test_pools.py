"""The connection budget: how the pools of every service process share one database server."""

from __future__ import annotations

from agora.platform.db.pools import POOL_CAP, connections_per_server, pool_size_for, split_budget
from agora.platform.settings import PlatformSettings
from agora.topology import SERVICE_NAMES
from tests.support.probe import ProbeSettings

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/agora_{}"


def test_every_service_on_one_postgresql_fits_its_default_max_connections() -> None:
    # the case: one database per service, all on one server (as the e2e fixtures do)
    urls = {name: PG.format(name) for name in SERVICE_NAMES}
    sizes = split_budget(urls, 80, {})
    assert set(sizes) == set(SERVICE_NAMES)
    assert min(sizes.values()) >= 1
    assert connections_per_server(urls, sizes) == {"127.0.0.1:5432": sum(sizes.values())}
    assert sum(sizes.values()) <= 80 < 100  # PostgreSQL's default max_connections


def test_sizes_set_by_hand_are_kept_and_counted() -> None:
    urls = {name: PG.format(name) for name in ("orders", "inventory", "catalog", "cart")}
    sizes = split_budget(urls, 40, {"orders": 16})
    assert sizes == {"orders": 16, "inventory": 8, "catalog": 8, "cart": 8}


def test_each_server_has_its_own_budget_and_sqlite_none() -> None:
    urls = {
        "orders": "postgresql+asyncpg://postgres@10.0.0.1:5432/orders",
        "inventory": "postgresql+asyncpg://postgres@10.0.0.2:5432/inventory",
        "catalog": "postgresql+asyncpg://postgres@10.0.0.2:5432/catalog",
        "web": "sqlite+aiosqlite:////tmp/web.db",
    }
    sizes = split_budget(urls, 30, {})
    # alone on its server, a service still gets no more than the cap
    assert sizes == {"orders": POOL_CAP, "inventory": 15, "catalog": 15}
    assert connections_per_server(urls, sizes) == {"10.0.0.1:5432": POOL_CAP, "10.0.0.2:5432": 30}


def test_a_lone_process_takes_its_share_of_the_budget() -> None:
    platform = PlatformSettings()
    assert pool_size_for(ProbeSettings(), platform) == 80 // len(SERVICE_NAMES)
    assert pool_size_for(ProbeSettings(), PlatformSettings(database_connection_budget=400)) == POOL_CAP
    # a cluster of 3 replicas per service says so, and each pool shrinks
    replicas = PlatformSettings(database_pool_shares=3 * len(SERVICE_NAMES))
    assert pool_size_for(ProbeSettings(), replicas) == 1
    assert pool_size_for(ProbeSettings(database_pool_size=7), replicas) == 7


def test_the_budget_is_read_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AGORA_DATABASE_CONNECTION_BUDGET", "45")
    monkeypatch.setenv("AGORA_PROBE_DATABASE_POOL_SIZE", "4")
    assert PlatformSettings().database_connection_budget == 45
    assert pool_size_for(ProbeSettings(), PlatformSettings()) == 4
