"""HEAD is answered wherever GET is (curl -I, link checkers, caches revalidating)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services import catalog, identity

pytestmark = pytest.mark.backend("sqlite")


async def test_head_answers_like_get_without_changing_anything(tmp_path: Path) -> None:
    async with running_services([identity.spec, catalog.spec], platform_for_tests(tmp_path), seed=True) as (client, _):
        got = await client.get("/api/catalog/products", params={"limit": 2})
        head = await client.head("/api/catalog/products", params={"limit": 2})
        assert got.status_code == head.status_code == 200
        assert head.headers["etag"] == got.headers["etag"]
        assert head.headers["content-type"] == got.headers["content-type"]
        # only safe routes: HEAD on a POST-only route is still 405
        assert (await client.head("/api/identity/login")).status_code == 405
