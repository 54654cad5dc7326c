"""Fixtures of the end-to-end tests that run every service as its own process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from agora.platform.testing.databases import POSTGRES_URL, create_database, drop_database
from agora.topology import SERVICE_NAMES


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database per service (dropped afterwards), as a cluster gives each."""
    urls = {name: asyncio.run(create_database(POSTGRES_URL, "postgresql")) for name in SERVICE_NAMES}
    try:
        yield urls
    finally:
        for url in urls.values():
            asyncio.run(drop_database(POSTGRES_URL, "postgresql", url))
