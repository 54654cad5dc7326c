"""The service graph, declared once: who calls whom over HTTP, who publishes and who consumes which
topics (with the consumer groups), and which stores each service uses.

Everything that locks traffic down in a cluster (NetworkPolicies, Istio AuthorizationPolicies, KEDA
triggers) is generated from this module by :mod:`agora.deploy.k8s`, so a flow missing here is a flow
the cluster refuses. ``tests/k8s/test_graph.py`` holds it against the code both ways: the consumers
each service really builds, the service clients its code asks for, the event types its package
writes (docs/deploy.md, "The service graph", says what that test does and does not observe).

Plain data on purpose: the generator and the tests read it without importing any service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from agora.topology import SERVICE_NAMES

#: every service serves HTTP (API, /healthz, /readyz, /metrics) on this port in a container
#: (the one the image exposes and compose uses)
HTTP_PORT = 8000

#: the chassis: every service but identity fetches identity's JWKS and its revocations over HTTP
#: and follows identity's revocation events in the group ``<service>.revocations``
#: (agora.platform.http.app, agora.platform.auth.revocations)
CHASSIS_CALLEE = "identity"
REVOCATIONS_TOPIC = "identity"


class Store(StrEnum):
    postgres = "postgres"
    redis = "redis"
    kafka = "kafka"
    s3 = "s3"
    smtp = "smtp"
    otlp = "otlp"


@dataclass(frozen=True)
class Consumption:
    group: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Node:
    name: str
    calls: tuple[str, ...] = ()
    """Services this one calls over HTTP, beyond the chassis's calls to identity."""
    publishes: tuple[str, ...] = ()
    """Topics this service's outbox relay writes (a topic is an event type's first segment)."""
    consumes: tuple[Consumption, ...] = ()
    """The service's own consumers (the chassis's revocation group comes on top, see
    :func:`consumer_groups`)."""
    stores: frozenset[Store] = field(default_factory=frozenset)
    owns_database: bool = True
    """Has tables of its own: a migration Job runs ``agora migrate <name>`` before it serves."""
    public: bool = False
    """Reached from outside the cluster (the ingress routes ``/api/<name>`` or ``/`` to it)."""
    stateful_streams: bool = False
    """Holds WebSockets or Server-Sent Events (longer grace period, no buffering at the ingress)."""


#: every service: its own database (its tables, outbox and inbox), the broker, Redis (the replicas'
#: revocation fan-out, rate limits; agora.platform.http.app) and the OTLP collector
_BASE = frozenset({Store.postgres, Store.redis, Store.kafka, Store.otlp})

NODES: tuple[Node, ...] = (
    Node("identity", publishes=("identity",), stores=_BASE, public=True),
    Node("catalog", calls=("media",), publishes=("catalog",), stores=_BASE, public=True),
    Node(
        "inventory",
        publishes=("inventory",),
        consumes=(Consumption("inventory", ("catalog",)),),
        stores=_BASE,
        public=True,
    ),
    Node("cart", calls=("catalog",), publishes=("cart",), stores=_BASE, public=True),
    Node("currency", publishes=("currency",), stores=_BASE, public=True),
    Node("shipping", publishes=("shipping",), stores=_BASE, public=True),
    Node("payments", publishes=("payments",), stores=_BASE, public=True),
    Node(
        "orders",
        calls=("cart", "catalog", "currency", "shipping", "inventory", "payments"),
        publishes=("orders",),
        consumes=(Consumption("orders", ("shipping",)),),
        stores=_BASE,
        public=True,
    ),
    Node(
        "notifications",
        consumes=(Consumption("notifications", ("identity", "orders", "payments", "shipping")),),
        stores=_BASE | {Store.smtp},
        public=True,
        stateful_streams=True,
    ),
    Node(
        "recommendations",
        consumes=(Consumption("recommendations", ("catalog", "orders")),),
        stores=_BASE,
        public=True,
    ),
    Node("ads", publishes=("ads",), stores=_BASE, public=True),
    Node("analytics", consumes=(Consumption("analytics", ("cart", "orders")),), stores=_BASE, public=True),
    Node(
        "media",
        consumes=(Consumption("media", ("catalog",)),),
        stores=_BASE | {Store.s3},
        public=True,
    ),
    Node("support", publishes=("support",), stores=_BASE, public=True, stateful_streams=True),
    Node(
        "web",
        calls=tuple(name for name in SERVICE_NAMES if name not in ("identity", "payments", "web")),
        stores=_BASE,
        public=True,
    ),
)

BY_NAME: dict[str, Node] = {node.name: node for node in NODES}


def http_callees(name: str) -> frozenset[str]:
    """Every service ``name`` calls over HTTP, the chassis's calls to identity included."""
    node = BY_NAME[name]
    chassis = {CHASSIS_CALLEE} if name != CHASSIS_CALLEE else set()
    return frozenset(node.calls) | chassis


def http_edges() -> frozenset[tuple[str, str]]:
    """``(caller, callee)`` for every HTTP call between services."""
    return frozenset((node.name, callee) for node in NODES for callee in http_callees(node.name))


def http_callers(name: str) -> frozenset[str]:
    return frozenset(caller for caller, callee in http_edges() if callee == name)


def consumer_groups(name: str) -> tuple[Consumption, ...]:
    """The service's consumers plus the chassis's revocation group (every service follows them)."""
    return (*BY_NAME[name].consumes, Consumption(f"{name}.revocations", (REVOCATIONS_TOPIC,)))


def check() -> list[str]:
    """What is inconsistent in the declaration itself (a consumed topic nobody publishes...)."""
    problems = []
    if tuple(BY_NAME) != SERVICE_NAMES:
        problems.append(f"graph lists {tuple(BY_NAME)}, the build runs {SERVICE_NAMES}")
    published = {topic for node in NODES for topic in node.publishes}
    for node in NODES:
        problems += [f"{node.name} calls unknown {c}" for c in node.calls if c not in BY_NAME]
        for consumption in node.consumes:
            problems += [
                f"{node.name} consumes {t} that nobody publishes" for t in consumption.topics if t not in published
            ]
    return problems
