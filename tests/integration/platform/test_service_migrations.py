"""Every registered service's migrations, on every database: the round trip, and the migrated
schema equal to the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agora.platform.db import create_engine
from agora.platform.service import ServiceSpec
from agora.platform.testing.databases import fresh_database
from agora.platform.testing.migrations import assert_round_trip, schema_differences
from agora.registry import service_specs

SPECS = {spec.name: spec for spec in service_specs()}
#: What a migration creates outside the models on purpose: the catalog's full-text search.
DATABASE_ONLY = {"catalog": {"search_vector", "ix_products_search_vector", "ft_products_name", "ft_products_document"}}


@pytest.fixture(params=sorted(SPECS))
def spec(request: pytest.FixtureRequest) -> ServiceSpec:
    return SPECS[request.param]


@pytest.fixture
async def engine(database_backend: str, tmp_path: Path) -> AsyncIterator:  # type: ignore[type-arg]
    async for url in fresh_database(database_backend, tmp_path):
        engine = create_engine(url, pool_size=2)
        try:
            yield engine
        finally:
            await engine.dispose()


async def test_upgrade_downgrade_upgrade(engine, spec: ServiceSpec) -> None:  # type: ignore[no-untyped-def]
    await assert_round_trip(engine, spec)


async def test_the_migrated_schema_matches_the_models(engine, spec: ServiceSpec) -> None:  # type: ignore[no-untyped-def]
    assert await schema_differences(engine, spec, database_only=DATABASE_ONLY.get(spec.name, ())) == []
