"""The status machine allows exactly the transitions of the spec and refuses the rest with a 409."""

from __future__ import annotations

import itertools

import pytest

from agora.services.orders.status import InvalidTransitionError, Status, allowed, check, sources

ALLOWED = {
    ("pending", "paid"),
    ("pending", "failed"),
    ("paid", "shipped"),
    ("paid", "cancelled"),
    ("shipped", "delivered"),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(Status, Status)))
def test_only_the_listed_transitions_are_allowed(current: Status, target: Status) -> None:
    expected = (current.value, target.value) in ALLOWED
    assert allowed(current, target) is expected
    if expected:
        check(current, target)
    else:
        with pytest.raises(InvalidTransitionError) as refused:
            check(current, target)
        assert refused.value.status == 409 and refused.value.field == "status"


def test_sources_are_the_where_clause_of_each_transition() -> None:
    assert sources(Status.cancelled) == {Status.paid}
    assert sources(Status.paid) == {Status.pending}
    assert sources(Status.pending) == set()


def test_refusals_read_like_sentences() -> None:
    with pytest.raises(InvalidTransitionError, match=r"A shipped order cannot be cancelled\."):
        check("shipped", "cancelled")
