"""Crashing a real ``agora up``: faults injected by the test that starts it, not by production code.

:func:`agora_with_fault` is the command line of a Python process that first calls one of the
functions below (it patches the moment to fail at) and then runs the ``agora`` CLI as
``python -m agora`` would. A crash is :func:`os._exit`: the process dies at once, as under
``kill -9``, with nothing flushed, closed or acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from agora.platform.testing.processes import free_port, running_process, wait_until_ready

REPO = Path(__file__).resolve().parents[2]

#: The exit code of an injected crash (sysexits' EX_TEMPFAIL's neighbour, unused by agora).
CRASH_EXIT_CODE = 86


def agora_with_fault(fault: str, *args: str) -> list[str]:
    """``fault``: ``name`` or ``name:argument``, a function of this module called in the child
    (with the argument, if any) before the CLI runs with ``args``."""
    name, _, argument = fault.partition(":")
    call = f"getattr(crashes, {name!r})({argument!r})" if argument else f"getattr(crashes, {name!r})()"
    bootstrap = (
        "import sys; import tests.support.crashes as crashes; "
        f"{call}; "
        "sys.argv = ['agora', *sys.argv[1:]]; "
        "from agora.cli import main; main()"
    )
    return [sys.executable, "-c", bootstrap, *args]


@contextmanager
def agora_up(command: Sequence[str], log: Path, **env: str) -> Iterator[tuple[httpx.Client, Any]]:
    """Runs ``command`` (``agora up ...`` without ``--port``) until ``/readyz``; a client on it."""
    port = free_port()
    environment = {"AGORA_ENVIRONMENT": "development", "AGORA_LOG_LEVEL": "WARNING", **env}
    with running_process([*command, "--port", str(port)], log_path=log, env=environment, cwd=REPO) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=180, process=process)
        with httpx.Client(base_url=base, timeout=30) as client:
            yield client, process


def login(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    response = client.post("/api/identity/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def crash(reason: str) -> None:
    print(f"injected crash: {reason}", file=sys.stderr, flush=True)
    os._exit(CRASH_EXIT_CODE)


def crash_once_order_events_are_published() -> None:
    """The relay marks ``orders.order.placed`` published, no consumer has handled it yet: crash.

    Consumers of order events are held (their handler never returns), so "not handled yet" holds
    however the tasks interleave; the process dies right after the relay's commit.
    """
    from agora.platform.messaging import consumer, relay

    dispatch = consumer.Consumer.dispatch

    async def held(self: consumer.Consumer, envelope: Any) -> None:
        if envelope.type.startswith("orders.order."):
            await asyncio.Event().wait()  # handling takes "forever": the crash comes first
        await dispatch(self, envelope)

    outgoing = relay.OutboxRelay._outgoing
    run_once = relay.OutboxRelay.run_once

    def noted(self: Any, row: Any) -> Any:
        message = outgoing(row)
        self.fault_batch.append(message.envelope.type)
        return message

    async def publish_then_crash(self: Any) -> int:
        self.fault_batch = []
        count = await run_once(self)  # returns once the batch is published and marked so
        if "orders.order.placed" in self.fault_batch:
            crash("orders.order.placed was marked published")
        return count

    consumer.Consumer.dispatch = held  # type: ignore[method-assign]
    relay.OutboxRelay._outgoing = noted  # type: ignore[assignment]
    relay.OutboxRelay.run_once = publish_then_crash  # type: ignore[method-assign]


def crash_after_saga_step(step: str) -> None:
    """The checkout saga committed ``step`` on the order row: crash before the next one."""
    from agora.services.orders.saga import _steps

    create, persist = _steps.SagaSteps._create, _steps.SagaSteps._persist

    async def created(self: Any, request: Any) -> Any:
        run = await create(self, request)
        if step == _steps.CREATED:
            crash(f"after the saga step {step}")
        return run

    async def persisted(self: Any, run: Any, to: str, **options: Any) -> None:
        await persist(self, run, to, **options)
        if to == step:
            crash(f"after the saga step {step}")

    _steps.SagaSteps._create = created  # type: ignore[method-assign]
    _steps.SagaSteps._persist = persisted  # type: ignore[method-assign]
