"""The declared service graph (agora.deploy.graph) against the code, both ways.

What is observed, per service: the consumers its ``consumers()`` really builds (group and topics),
the ``depends_on`` of its spec, the services its package names as the first argument of a call
(``clients("catalog")``, ``backend.get("catalog", ...)``, a port's ``port_of(context, "cart", ...)``)
and the event types it hands to an outbox's ``add``. A call whose target is computed at run time
(the web's health page asks every service) is invisible to that scan; docs/deploy.md says so.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from agora.deploy import graph
from agora.registry import service_specs
from agora.topology import SERVICE_NAMES

SRC = Path(__file__).resolve().parents[2] / "src" / "agora"
SERVICE_CALLS = {"clients"}
#: ``port_of(context, "cart", CartPort, HttpCart)``: the callee is the second argument
PORT_CALLS = {"port_of"}
EVENT_TYPE = re.compile(r"^[a-z]+\.[a-z_]+\.[a-z_]+$")


def _modules(package: Path) -> list[ast.Module]:
    return [ast.parse(path.read_text()) for path in sorted(package.rglob("*.py"))]


def _event_constants() -> dict[str, str]:
    """``ORDER_PLACED -> "orders.order.placed"`` for every event type the contracts declare, and
    ``OrderPlaced -> "orders.order.placed"`` for every event model (``event_type: ClassVar[str]``)."""
    found: dict[str, str] = {}
    classes: list[ast.ClassDef] = []
    for module in _modules(SRC / "contracts"):
        for node in module.body:
            if isinstance(node, ast.ClassDef):
                classes.append(node)
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value.value
                if isinstance(value, str) and EVENT_TYPE.match(value):
                    found.update({t.id: value for t in targets if isinstance(t, ast.Name)})
    for cls in classes:
        for statement in cls.body:
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and statement.target.id == "event_type"
            ):
                value = statement.value
                event_type = found.get(value.id) if isinstance(value, ast.Name) else getattr(value, "value", None)
                if isinstance(event_type, str):
                    found[cls.name] = event_type
    return found


def _calls(name: str) -> list[ast.Call]:
    return [n for m in _modules(SRC / "services" / name) for n in ast.walk(m) if isinstance(n, ast.Call)]


def _callee_argument(call: ast.Call) -> ast.expr | None:
    """The argument naming the callee: the second of ``port_of``, else the first."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    index = 1 if name in PORT_CALLS else 0
    return call.args[index] if len(call.args) > index else None


def _is_service_call(call: ast.Call) -> bool:
    """``clients("x")``, ``port_of(context, "x", ...)`` (ports), ``backend.get("x", ...)`` (the web)."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in SERVICE_CALLS | PORT_CALLS
    if isinstance(func, ast.Attribute):
        receiver = func.value
        receiver_name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
        return func.attr in SERVICE_CALLS | PORT_CALLS or receiver_name == "backend"
    return False


def _named_callees(name: str) -> set[str]:
    named = set()
    for call in _calls(name):
        argument = _callee_argument(call) if _is_service_call(call) else None
        if isinstance(argument, ast.Constant) and argument.value in SERVICE_NAMES:
            named.add(argument.value)
    return named - {name}


def _published_topics(name: str) -> set[str]:
    """The topics of the event types the package names, when it writes to an outbox at all.

    An event type's topic is its first segment, so a package naming another service's event type
    (a consumer's handler) is not publishing it; payments passes its types through a helper, so
    the types handed to ``add`` itself cannot be read off the call."""
    constants = _event_constants()
    calls = _calls(name)
    writes = any(
        isinstance(c.func, ast.Attribute) and c.func.attr == "add" and len(c.args) >= 2 for c in calls
    )  # outbox.add(session, event) or (session, type, data): the repositories' add(row) take one
    named = set()
    for module in _modules(SRC / "services" / name):
        for node in ast.walk(module):
            value = constants.get(node.id) if isinstance(node, ast.Name) else getattr(node, "value", None)
            if isinstance(value, str) and EVENT_TYPE.match(value):
                named.add(value.partition(".")[0])
    return {topic for topic in named if topic == name} if writes else set()


def test_the_declaration_is_consistent_in_itself() -> None:
    assert graph.check() == []


@pytest.mark.parametrize("spec", service_specs(), ids=lambda spec: spec.name)
def test_consumers_are_the_declared_ones(spec) -> None:
    # the real consumers() with a context holding only what building them reads (nothing starts)
    context = SimpleNamespace(
        sessions=None, transport=None, outbox=None, spec=spec, name=spec.name, extras={},
        platform=SimpleNamespace(consumer_max_attempts=5), settings=spec.settings_cls(),
    )  # fmt: skip
    built = {(c.name, tuple(c.topics)) for c in (spec.consumers(context) if spec.consumers else ())}
    declared = {(c.group, tuple(sorted(c.topics))) for c in graph.BY_NAME[spec.name].consumes}
    assert built == declared


@pytest.mark.parametrize("spec", service_specs(), ids=lambda spec: spec.name)
def test_http_callees_are_the_spec_dependencies(spec) -> None:
    chassis = {graph.CHASSIS_CALLEE} - {spec.name}
    assert graph.http_callees(spec.name) == set(spec.depends_on) | chassis


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_named_in_a_call_is_declared_and_back(name: str) -> None:
    declared = graph.http_callees(name) - {graph.CHASSIS_CALLEE}  # the chassis calls identity for all
    named = _named_callees(name) - {graph.CHASSIS_CALLEE}
    assert named <= declared, f"{name} calls {sorted(named - declared)} the graph does not declare"
    unseen = declared - named
    if name == "web":  # its health page asks every service by a computed name (web/monitoring.py)
        unseen -= set(SERVICE_NAMES)
    assert not unseen, f"the graph declares {name} -> {sorted(unseen)}, which its code never names"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_published_topics_are_the_declared_ones(name: str) -> None:
    assert _published_topics(name) == set(graph.BY_NAME[name].publishes)
