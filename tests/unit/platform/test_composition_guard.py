"""Every service has a typed composition root (docs/architecture.md, "Composition and configuration").

A converted service reads nothing from ``request.state`` or ``context.extras``, casts no settings,
builds no routes in a ``build_router`` closure and wakes the relay only through the chassis's unit
of work. The services not converted yet are listed in ``NOT_YET_CONVERTED``: convert one, take
it off the list. Once the list is empty, the legacy lifespan state keys and ``ServiceContext.extras``
must go too (the last two tests say so).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import agora.services
from agora.platform.http.app import LEGACY_STATE_KEYS
from agora.platform.service import ServiceContext

SERVICES = Path(agora.services.__file__).parent

#: Shrinks as services are converted; empty by the end of issue 16's structure step.
NOT_YET_CONVERTED: frozenset[str] = frozenset()

#: What a converted service never contains, and what to use instead.
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


def test_the_list_names_services_that_exist() -> None:
    assert NOT_YET_CONVERTED <= set(service_names())


@pytest.mark.parametrize("service", service_names())
def test_a_converted_service_uses_its_typed_composition_root(service: str) -> None:
    if service in NOT_YET_CONVERTED:
        pytest.skip("not converted yet (NOT_YET_CONVERTED)")
    assert violations(service) == []


@pytest.mark.parametrize("service", sorted(NOT_YET_CONVERTED))
def test_a_service_still_listed_is_not_converted_yet(service: str) -> None:
    """A service that passes the guard comes off the list, so it stays converted."""
    assert violations(service), f"{service} is converted: take it off NOT_YET_CONVERTED"


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


def test_with_every_service_converted_the_lifespan_state_is_the_context_only() -> None:
    if NOT_YET_CONVERTED:
        pytest.skip(f"{len(NOT_YET_CONVERTED)} services still read the legacy state keys")
    assert LEGACY_STATE_KEYS == (), "remove LEGACY_STATE_KEYS and their entries in request_state"


def test_with_every_service_converted_the_context_has_no_extras() -> None:
    if NOT_YET_CONVERTED:
        pytest.skip(f"{len(NOT_YET_CONVERTED)} services still use context.extras")
    assert "extras" not in {f.name for f in dataclasses.fields(ServiceContext)}, "remove ServiceContext.extras"
