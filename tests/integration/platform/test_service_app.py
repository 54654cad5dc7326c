"""The app factory end to end, through HTTP, on every database backend, with the probe service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from agora.platform.messaging import outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from tests.support.probe import Note, ProbeSettings, spec


@pytest.fixture(scope="module")
async def probe(database_url: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator:
    platform = platform_for_tests(tmp_path_factory.mktemp("probe"), jwks_file=jwks_file, max_body_bytes=4096)
    async with running_services([spec], platform, {"probe": ProbeSettings(database_url=database_url)}) as running:
        yield running


async def counts(embedded) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with embedded.contexts["probe"].sessions() as session:
        notes = await session.scalar(select(func.count()).select_from(Note))
        events = await session.scalar(select(func.count()).select_from(outbox))
    return int(notes or 0), int(events or 0)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_write_commits_once_with_its_event(probe, admin_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    before = await counts(embedded)
    response = await client.post("/api/probe/notes", json={"text": "hello"}, headers=bearer(admin_token))
    assert response.status_code == 201, response.text
    assert await counts(embedded) == (before[0] + 1, before[1] + 1)


async def test_error_after_writing_rolls_everything_back(probe, admin_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    before = await counts(embedded)
    response = await client.post("/api/probe/fail", headers=bearer(admin_token))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 500 and "boom" not in response.text and "Traceback" not in response.text
    assert await counts(embedded) == before


@pytest.mark.parametrize(
    ("request_kwargs", "status", "field"),
    [
        ({"content": b'{"text": ', "headers": {"content-type": "application/json"}}, 400, "body"),
        ({"json": {"text": 42}}, 422, "body.text"),
        ({"json": {"text": ""}}, 422, "body.text"),
        ({"json": {"text": "x" * 101}}, 422, "body.text"),
        ({"content": b"text=hello", "headers": {"content-type": "text/plain"}}, 415, "content-type"),
        ({"content": b'{"text": "\xff\xfe"}', "headers": {"content-type": "application/json"}}, 400, None),
    ],
    ids=["malformed-json", "wrong-type", "empty", "too-long", "unknown-content-type", "not-utf8"],
)
async def test_bad_input_is_a_4xx_problem_and_writes_nothing(  # type: ignore[no-untyped-def]
    probe, admin_token: str, request_kwargs, status: int, field: str | None
) -> None:
    client, embedded = probe
    before = await counts(embedded)
    kwargs = dict(request_kwargs)
    headers = {**bearer(admin_token), **kwargs.pop("headers", {})}
    response = await client.post("/api/probe/notes", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [error["field"] for error in response.json()["errors"]]
    assert await counts(embedded) == before


async def test_body_over_the_limit_is_413(probe, admin_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    before = await counts(embedded)
    response = await client.post("/api/probe/notes", json={"text": "x" * 10_000}, headers=bearer(admin_token))
    assert response.status_code == 413
    assert await counts(embedded) == before


async def test_role_guard(probe, customer_token: str, token_factory) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    before = await counts(embedded)
    anonymous = await client.post("/api/probe/notes", json={"text": "a"})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    customer = await client.post("/api/probe/notes", json={"text": "a"}, headers=bearer(customer_token))
    assert customer.status_code == 403
    wrong_audience = token_factory(roles=["admin"], audience="elsewhere")
    forged = await client.post("/api/probe/notes", json={"text": "a"}, headers=bearer(wrong_audience))
    assert forged.status_code == 401
    assert await counts(embedded) == before


async def test_request_id_metrics_and_readiness(probe) -> None:  # type: ignore[no-untyped-def]
    client, _ = probe
    response = await client.get("/api/probe/notes/count", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200 and response.headers["x-request-id"] == "abc-123"
    minted = await client.get("/api/probe/notes/count", headers={"X-Request-ID": "bad id\nforged"})
    assert minted.headers["x-request-id"] not in ("", "bad id\nforged")
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/probe/notes/count"' in metrics
    assert "agora_http_request_duration_seconds_bucket" in metrics
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"probe.database": "ok", "probe.broker": "ok", "probe.events": "ok"}


async def test_unknown_paths_are_problems(probe) -> None:  # type: ignore[no-untyped-def]
    client, _ = probe
    for path in ("/api/nothing/here", "/api/probe/missing", "/nowhere"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_readyz_names_an_unreachable_database(jwks_file: Path, tmp_path: Path) -> None:
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file)
    dead = ProbeSettings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    from agora.platform.runtime import EmbeddedApp

    embedded = EmbeddedApp([spec], platform, settings={"probe": dead})
    async with embedded.running():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=embedded), base_url="http://t") as client:
            response = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["probe.database"] != "ok" and body["checks"]["probe.broker"] == "ok"
    assert "probe.database" in body["detail"]
