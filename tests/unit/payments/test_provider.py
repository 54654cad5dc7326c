"""The simulated provider answers the documented test cards as documented."""

from __future__ import annotations

import pytest

from agora.services.payments.provider import (
    TEST_CARD_DECLINED,
    TEST_CARD_PROVIDER_ERROR,
    TEST_CARD_SUCCEEDS,
    ProviderError,
    SimulatedProvider,
)


async def test_the_success_card_and_any_other_valid_card_are_approved() -> None:
    provider = SimulatedProvider()
    for number in (TEST_CARD_SUCCEEDS, "5555555555554444"):
        answer = await provider.charge(number, amount=1000, currency="USD")
        assert answer.approved
        assert answer.reference and answer.reference.startswith("sim_")
        assert answer.decline_code is None


async def test_the_decline_card_is_declined() -> None:
    answer = await SimulatedProvider().charge(TEST_CARD_DECLINED, amount=1000, currency="USD")
    assert not answer.approved
    assert answer.decline_code == "card_declined"
    assert answer.reference is None


async def test_the_provider_error_card_raises_without_the_number() -> None:
    with pytest.raises(ProviderError) as error:
        await SimulatedProvider().charge(TEST_CARD_PROVIDER_ERROR, amount=1000, currency="USD")
    assert "0119" not in str(error.value)
