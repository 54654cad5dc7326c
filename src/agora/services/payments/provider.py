"""The payment provider port and the simulated provider every mode uses.

Agora talks to no real card network: :class:`SimulatedProvider` answers like one, deterministically,
from the card number. The documented test cards (any future expiry, any CVC of the right length):

================================  =============================================================
``4242 4242 4242 4242``           succeeds: the charge is captured
``4000 0000 0000 0002``           declined by the issuer (``card_declined``): 402, charge recorded
``4000 0000 0000 0119``           the provider fails (``provider_error``): 502, nothing recorded
any other valid card number       succeeds
================================  =============================================================

A real provider (Stripe, Adyen...) would implement :class:`PaymentProvider` in its own module and
be chosen by settings; the service code depends only on the protocol.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from agora.platform.faults import PAYMENT_FAILURES, PAYMENT_LATENCY, FaultFlags

TEST_CARD_SUCCEEDS = "4242424242424242"
TEST_CARD_DECLINED = "4000000000000002"
TEST_CARD_PROVIDER_ERROR = "4000000000000119"

TEST_CARDS_DESCRIPTION = (
    "Test cards (any future expiry, any CVC of the right length): "
    "`4242 4242 4242 4242` succeeds; "
    "`4000 0000 0000 0002` is declined (402 problem, reason `card_declined`; the declined charge is recorded); "
    "`4000 0000 0000 0119` fails at the provider (502 problem, reason `provider_error`; nothing is recorded "
    "and the same Idempotency-Key may be retried); any other valid card number succeeds."
)


class ProviderError(Exception):
    """The provider did not give an answer (down, timed out, internal error): nothing was charged."""


@dataclass(frozen=True)
class Authorization:
    """The provider's answer to a charge: approved (with its reference) or declined (with why)."""

    approved: bool
    reference: str | None = None
    decline_code: str | None = None
    decline_message: str | None = None


class PaymentProvider(Protocol):
    async def charge(self, number: str, *, amount: int, currency: str) -> Authorization:
        """Capture ``amount`` minor units from the card, or decline; :class:`ProviderError` if unsure."""
        ...

    async def refund(self, reference: str, *, amount: int, currency: str) -> None:
        """Give ``amount`` back on a captured charge; :class:`ProviderError` on failure."""
        ...


class SimulatedProvider:
    """Behaves like a card network for the documented test cards; approves every other card."""

    async def charge(self, number: str, *, amount: int, currency: str) -> Authorization:
        if number == TEST_CARD_PROVIDER_ERROR:
            raise ProviderError("the simulated provider failed (the provider-error test card)")
        if number == TEST_CARD_DECLINED:
            return Authorization(
                approved=False,
                decline_code="card_declined",
                decline_message="The card was declined by its issuer.",
            )
        return Authorization(approved=True, reference=f"sim_{uuid.uuid4().hex}")

    async def refund(self, reference: str, *, amount: int, currency: str) -> None:
        return None


class FaultyProvider:
    """A provider made slow or failing by the service's fault flags (``payment-latency``,
    ``payment-failures``; :mod:`agora.platform.faults`): what a struggling card network does."""

    def __init__(self, inner: PaymentProvider, faults: FaultFlags) -> None:
        self._inner = inner
        self._faults = faults

    async def charge(self, number: str, *, amount: int, currency: str) -> Authorization:
        await self._faults.delay(PAYMENT_LATENCY)
        await self._faults.fail(PAYMENT_FAILURES, ProviderError)
        return await self._inner.charge(number, amount=amount, currency=currency)

    async def refund(self, reference: str, *, amount: int, currency: str) -> None:
        await self._faults.delay(PAYMENT_LATENCY)
        await self._faults.fail(PAYMENT_FAILURES, ProviderError)
        await self._inner.refund(reference, amount=amount, currency=currency)
