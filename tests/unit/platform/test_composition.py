"""The chassis's composition root: ``spec.start``, the runtime, typed dependencies, one unit of work."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import unit_of_work
from agora.platform.http.app import service_runtime
from agora.platform.http.deps import Context, Cursors, Session, reader, runtime_of, writer
from agora.platform.http.pagination import CursorCodec
from agora.platform.http.pagination import Cursors as CursorPages
from agora.platform.http.problems import ProblemError, install_problem_handlers
from agora.platform.messaging import Outbox, messaging_metadata, outbox
from agora.platform.service import ServiceContext
from agora.platform.testing.apps import platform_for_tests
from tests.support.probe import ProbeSettings, spec

KEYSET = tuple[datetime, str]


# -- cursors ---------------------------------------------------------------------------------------


def cursors() -> CursorPages:
    return CursorPages(CursorCodec(b"secret", purpose="probe"))


def test_a_cursor_carries_its_key_list_and_scope() -> None:
    at = datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)
    raw = cursors().encode((at, "id-1"), of="orders", user="u-1")
    assert cursors().decode(raw, KEYSET, of="orders", user="u-1") == (at, "id-1")
    assert cursors().decode(None, KEYSET, of="orders", user="u-1") is None


@pytest.mark.parametrize(
    "decode",
    [
        lambda c, raw: c.decode(raw + "x", KEYSET, of="orders", user="u-1"),  # tampered
        lambda c, raw: c.decode("not-a-cursor", KEYSET, of="orders", user="u-1"),
        lambda c, raw: c.decode(raw, KEYSET, of="payments", user="u-1"),  # another list
        lambda c, raw: c.decode(raw, KEYSET, of="orders", user="u-2"),  # another filter
        lambda c, raw: c.decode(raw, KEYSET, of="orders"),
        lambda c, raw: c.decode(raw, tuple[int, str], of="orders", user="u-1"),  # another key shape
    ],
    ids=["tampered", "garbage", "other-list", "other-scope", "no-scope", "other-shape"],
)
def test_a_refused_cursor_is_a_422_naming_query_cursor(decode: Any) -> None:
    codec = cursors()
    raw = codec.encode((datetime(2026, 12, 5, tzinfo=UTC), "id-1"), of="orders", user="u-1")
    with pytest.raises(ProblemError) as caught:
        decode(codec, raw)
    assert (caught.value.status, caught.value.field) == (422, "query.cursor")


def test_page_keeps_limit_rows_and_points_past_the_last() -> None:
    codec = cursors()
    items, next_cursor = codec.page(["a", "b", "c"], 2, lambda row: (row,), of="letters")
    assert items == ["a", "b"] and next_cursor is not None
    assert codec.decode(next_cursor, tuple[str], of="letters") == ("b",)
    assert codec.page(["a", "b"], 2, lambda row: (row,), of="letters") == (["a", "b"], None)


# -- spec.start, the runtime and the unit of work ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProbeRuntime:
    context: ServiceContext
    notes: list[str]


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[tuple[ServiceContext, list[str]]]:
    events: list[str] = []

    @asynccontextmanager
    async def start(context: ServiceContext) -> AsyncIterator[ProbeRuntime]:
        async with context.engine.begin() as connection:  # the engine exists: start comes after it
            await connection.run_sync(messaging_metadata.create_all)
        events.append("start")
        yield ProbeRuntime(context, [])
        async with context.engine.connect():  # and is still there when the runtime is torn down
            events.append("stop")

    platform = platform_for_tests(tmp_path)
    settings = ProbeSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}")
    probe = dataclasses.replace(spec, start=start)
    async with service_runtime(probe, platform, settings, start_background=False) as context:
        yield context, events
    assert events == ["start", "stop"]


async def test_start_builds_the_runtime_once(started: tuple[ServiceContext, list[str]]) -> None:
    context, events = started
    assert isinstance(context.runtime, ProbeRuntime) and context.runtime.context is context
    assert events == ["start"]


async def test_runtime_of_hands_endpoints_the_runtime_checked(started: tuple[ServiceContext, list[str]]) -> None:
    context, _ = started
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/runtime")
    async def runtime(found: Annotated[ProbeRuntime, Depends(runtime_of(ProbeRuntime))], ctx: Context) -> bool:
        return found is ctx.runtime

    @app.get("/wrong")
    async def wrong(found: Annotated[str, Depends(runtime_of(str))]) -> str:
        return found

    @app.get("/cursors")
    async def cursors_of(found: Cursors) -> bool:
        return found is context.cursors

    async def with_context(scope: Any, receive: Any, send: Any) -> None:
        # what the chassis's lifespan state gives every request: the context
        await app({**scope, "state": {"context": context}}, receive, send)

    transport = httpx.ASGITransport(app=with_context, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/runtime")).json() is True
        assert (await client.get("/cursors")).json() is True
        assert (await client.get("/wrong")).status_code == 500


Built = tuple[ProbeRuntime, AsyncSession]
Key = Annotated[str, Header(alias="x-key")]  # a guard: any parameter FastAPI solves (422 without)


def built(runtime: ProbeRuntime, session: AsyncSession) -> Built:
    return runtime, session


async def test_reader_and_writer_build_the_service_after_their_guards(
    started: tuple[ServiceContext, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    context, _ = started
    app = FastAPI()
    install_problem_handlers(app)
    cleared: list[bool] = []  # the read cache's clear, counted
    monkeypatch.setattr(context.read_cache, "clear", lambda: cleared.append(True))

    @app.get("/read")
    async def read(found: Annotated[Built, Depends(reader(ProbeRuntime, built, guards=(Key,)))]) -> bool:
        return found[0] is context.runtime

    @app.post("/write")
    async def write(
        found: Annotated[Built, Depends(writer(ProbeRuntime, built, guards=(Key,), clears_cache=True))],
        session: Session,
    ) -> bool:
        await session.execute(select(1))  # a transaction to commit (none, no commit, no callbacks)
        assert cleared == []  # not before the commit
        return found[0] is context.runtime and found[1] is session  # the request's unit of work

    async def with_context(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "state": {"context": context}}, receive, send)

    transport = httpx.ASGITransport(app=with_context, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/read")).status_code == 422
        assert (await client.post("/write")).status_code == 422
        assert cleared == []
        assert (await client.get("/read", headers={"x-key": "k"})).json() is True
        assert (await client.post("/write", headers={"x-key": "k"})).json() is True
        assert cleared == [True]
    parameters = app.openapi()["paths"]["/write"]["post"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [("x-key", "header", True)]


async def test_unit_of_work_commits_and_wakes_the_relay_once(
    started: tuple[ServiceContext, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    context, _ = started
    woken: list[bool] = []
    monkeypatch.setattr(context.relay, "notify", lambda: woken.append(True))
    async with unit_of_work(context) as session:
        await Outbox("agora/probe").add(session, "probe.note.added", {"n": 1})
    async with unit_of_work(context) as session:
        assert await session.scalar(select(func.count()).select_from(outbox)) == 1
    assert woken == [True]  # the read-only second one committed nothing and woke nothing

    with pytest.raises(RuntimeError):
        async with unit_of_work(context) as session:
            await Outbox("agora/probe").add(session, "probe.note.added", {"n": 2})
            raise RuntimeError("boom")
    async with unit_of_work(context.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(outbox)) == 1
    assert woken == [True]
