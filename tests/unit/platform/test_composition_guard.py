"""Every service has a typed composition root (docs/architecture.md, "Composition and configuration").

A service reads nothing from ``request.state`` or ``context.extras``, casts no settings, builds no
routes in a ``build_router`` closure and wakes the relay only through the chassis's unit of work;
and the chassis keeps none of what the services used before (state keys beyond the context,
``ServiceContext.extras``, ``ServiceSpec.build_router``/``on_shutdown``, ``platform.kept``).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import agora.platform
import agora.services
from agora.platform.http.app import request_state
from agora.platform.service import ServiceContext, ServiceSpec

SERVICES = Path(agora.services.__file__).parent

#: What a service never contains, and what to use instead.
FORBIDDEN = {
    r"request\.state\b|websocket\.state\b": "request.state: use the typed dependencies of agora.platform.http.deps",
    r"\bcontext\.extras\b|\bextras\[": "context.extras: build it in spec.start, keep it on the service's runtime",
    r"\bcast\([^)]*Settings\b": "a cast of settings: context.settings_as(TheSettings)",
    r"\bdef build_router\b": "routes in a build_router closure: module-level endpoints on a module-level router",
    r"\brelay\.notify\b|\boutbox_notifier\b": "waking the relay by hand: Session or unit_of_work(context) do it",
    r"\bplatform\.kept\b": "platform.kept: the runtime holds what it built",
}


def service_names() -> list[str]:
    return sorted(p.name for p in SERVICES.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def violations(service: str) -> list[str]:
    found = []
    for path in sorted((SERVICES / service).rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for pattern, advice in FORBIDDEN.items():
                if re.search(pattern, line):
                    found.append(f"{path.relative_to(SERVICES)}:{number}: {advice}")
    return found


@pytest.mark.parametrize("service", service_names())
def test_a_service_uses_its_typed_composition_root(service: str) -> None:
    assert violations(service) == []


def test_the_guard_sees_what_it_forbids() -> None:
    lines = [
        "sessions = request.state.sessions",
        'store = context.extras["x"]',
        "settings = cast(CartSettings, context.settings)",
        "def build_router() -> APIRouter:",
        "context.relay.notify()",
    ]
    for line in lines:
        assert any(re.search(pattern, line) for pattern in FORBIDDEN), line


def test_the_lifespan_state_is_the_context_only() -> None:
    context = object.__new__(ServiceContext)  # what request_state reads of it: nothing but itself
    assert request_state(context) == {"context": context}


def test_the_chassis_keeps_nothing_of_the_older_forms() -> None:
    assert "extras" not in {f.name for f in dataclasses.fields(ServiceContext)}
    assert not {"build_router", "on_shutdown"} & {f.name for f in dataclasses.fields(ServiceSpec)}
    assert not (Path(agora.platform.__file__).parent / "kept.py").exists()
