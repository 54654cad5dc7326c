"""Every service's API docs page: served from this origin only, with the pages' security headers."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from agora.platform.http.app import create_service_app
from agora.platform.service import ServiceSpec
from agora.platform.testing.apps import platform_for_tests
from agora.registry import service_specs

REFERENCES = re.compile(r'(?:src|href)="([^"]+)"')
EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def assert_page_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("spec", service_specs(), ids=lambda spec: spec.name)
async def test_docs_page_loads_only_local_assets_under_the_pages_csp(spec: ServiceSpec, tmp_path: Path) -> None:
    # the docs routes need no lifespan state: the bare app is enough (and quick for fifteen services)
    app = create_service_app(spec, platform_for_tests(tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agora.test") as client:
        page = await client.get(f"/api/{spec.name}/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert_page_headers(page)
        assert "<script>" not in page.text and "<style" not in page.text  # every script and style is a file
        references = REFERENCES.findall(page.text)
        assert len(references) == 4, references  # the icon, the stylesheet, Swagger UI and its starter
        for url in references:
            assert url.startswith(f"/api/{spec.name}/docs/assets/"), f"{url} is not served by this origin"
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].startswith(EXPECTED_TYPES[Path(url).suffix]), url
            assert_page_headers(asset)
        document = page.text.split('data-openapi-url="', 1)[1].split('"', 1)[0]
        assert (await client.get(document)).json()["info"]["title"] == spec.title
        assert (await client.get(f"/api/{spec.name}/docs/assets/..%2Fdocs.py")).status_code == 404
