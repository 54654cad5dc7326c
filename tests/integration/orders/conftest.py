"""The whole checkout stack, once per module and database backend (see tests/support/stack.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
async def stack(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(database_backend, tmp_path_factory.mktemp("stack")) as running:
        yield running
