"""Direct calls between services (agora.platform.peers): the adapter chosen per mode, what a failed
call means, and the role check a direct adapter applies for its route."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Protocol, runtime_checkable

import pytest

from agora.platform.errors import ConflictError, ForbiddenError, NotFoundError, UnauthorizedError
from agora.platform.http.problems import ProblemError
from agora.platform.peers import (
    Caller,
    Peer,
    PeerOutcomeUnknown,
    Peers,
    PeerUnavailable,
    committed,
    port_of,
)


@runtime_checkable
class Echo(Protocol):
    async def echo(self, value: str) -> str: ...


class HttpEcho:
    def __init__(self, clients: Any, caller: Caller) -> None:
        self.caller = caller

    async def echo(self, value: str) -> str:
        return f"http:{value}"


class DirectEcho:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    async def echo(self, value: str) -> str:
        return f"direct:{value}"


def _context(name: str, peers: Peers | None, *, direct_calls: bool = True) -> Any:
    return SimpleNamespace(
        name=name, peers=peers, platform=SimpleNamespace(direct_calls=direct_calls), clients=lambda _: None
    )


def _peers(port: Any = DirectEcho) -> Peers:
    callee = SimpleNamespace(name="callee", port=port)
    return Peers({"callee": callee}, {"callee": SimpleNamespace(name="callee")})  # type: ignore[dict-item]


async def test_embedded_calls_go_direct_and_distributed_ones_over_http() -> None:
    direct = port_of(_context("caller", _peers()), "callee", Echo, HttpEcho)
    assert await direct.echo("x") == "direct:x"
    assert isinstance(direct, DirectEcho) and direct.peer.caller == Caller("caller")
    assert await port_of(_context("caller", None), "callee", Echo, HttpEcho).echo("x") == "http:x"
    over_http = port_of(_context("caller", _peers(), direct_calls=False), "callee", Echo, HttpEcho)
    assert await over_http.echo("x") == "http:x"
    # a callee without a direct adapter, or not in this process, is called over HTTP
    assert await port_of(_context("caller", _peers(port=None)), "callee", Echo, HttpEcho).echo("x") == "http:x"
    assert await port_of(_context("caller", _peers()), "elsewhere", Echo, HttpEcho).echo("x") == "http:x"


def test_a_direct_adapter_must_implement_the_port() -> None:
    with pytest.raises(TypeError, match="not a Echo"):
        port_of(_context("caller", _peers(port=lambda peer: object())), "callee", Echo, HttpEcho)


def _peer(name: str = "callee") -> Peer:
    return Peer(_peers(), name, Caller("caller"))


async def test_a_refusal_passes_and_a_route_problem_becomes_the_same_service_error() -> None:
    async def refuse(_: Any) -> None:
        raise ConflictError("taken", field="sku", available=2)

    with pytest.raises(ConflictError) as conflict:
        await _peer().call("op", refuse)
    assert (conflict.value.field, conflict.value.extra) == ("sku", {"available": 2})

    async def problem(_: Any) -> None:
        raise ProblemError("No such user.", status=404, field="user_id")

    with pytest.raises(NotFoundError) as missing:
        await _peer().call("op", problem)
    assert (missing.value.detail, missing.value.field) == ("No such user.", "user_id")


async def test_an_unexpected_error_is_unavailable_before_the_commit_and_unknown_after() -> None:
    async def broken(_: Any) -> None:
        raise RuntimeError("bug")

    with pytest.raises(PeerUnavailable):
        await _peer().call("op", broken)

    async def broken_after_commit(_: Any) -> None:
        committed()
        raise RuntimeError("bug after the commit")

    with pytest.raises(PeerOutcomeUnknown):
        await _peer().call("op", broken_after_commit)
    # the mark belongs to that call only
    with pytest.raises(PeerUnavailable):
        await _peer().call("op", broken)


async def test_a_callee_that_is_not_running_is_unavailable() -> None:
    async def work(_: Any) -> None:
        raise AssertionError("never runs")

    with pytest.raises(PeerUnavailable, match="not running"):
        await Peer(Peers({}, {}), "stopped", Caller("caller")).call("op", work)


def test_the_role_check_of_a_route() -> None:
    service = Caller("orders").require("service", "admin")
    assert service.id == "service:orders" and service.has_role("service")
    with pytest.raises(UnauthorizedError):
        Caller("cart", as_service=False).require("service")
    with pytest.raises(ForbiddenError):
        Caller("orders").require("admin")
