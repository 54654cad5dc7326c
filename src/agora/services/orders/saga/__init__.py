"""The checkout saga: an explicit list of steps, each committed on the order row before the next.

::

    created -> priced -> reserved -> charged -> confirmed -> done          (status pending -> paid)
                  \\         \\          \\          \\
                   +---------+----------+----------+--> compensating -> failed   (refund, release)

* ``created``: the order row (``pending``), committed; the cart was read before, so an empty cart
  creates nothing.
* ``priced``: each line re-priced from the catalog (inactive -> fail), converted to the order's
  currency, shipping quoted and converted; lines and totals stored.
* ``reserved``: an inventory reservation whose id is the order id.
* ``charged``: a payments charge with ``Idempotency-Key: order-<id>``; the payment id stored.
* ``confirmed``: the reservation committed, then in ONE transaction: status ``paid``, the
  ``placed`` and ``paid`` events, the idempotency key's answer.
* ``done``: the cart cleared (a failure here leaves the order paid; recovery retries it).

Compensation runs backwards (refund if charged, release if a reservation may exist) and ends
with status ``failed``, a reason a customer can read and ``orders.order.failed``. If a
compensating call fails the order stays at ``compensating`` for recovery to finish.

Ownership: the process driving a saga holds a lease (``lease_until``) that every step renews;
every write is conditional on the version it read (``OrdersRepository.update``), so a process
that lost its lease cannot move the order any more. Recovery (at start-up and periodically)
takes over orders whose lease lapsed: before ``charged`` it asks payments whether a charge
exists (the card number was never stored, so a charge cannot be retried): captured -> continue
to ``confirmed``; none -> compensate. From ``charged`` on it simply continues.

A call whose outcome is unknown (a charge that timed out after being sent) is never guessed at:
the order is left to recovery, which asks the service once the lease has lapsed.
"""

from agora.services.orders.saga._outcomes import (
    CANCELLED,
    CANCELLING,
    COMPENSATING,
    FAILED,
    STEPS,
    CartTooLarge,
    CheckoutInProgress,
    EmptyCart,
    SettlingLater,
)
from agora.services.orders.saga._recovery import CheckoutSaga
from agora.services.orders.saga._steps import Admission, CheckoutRequest, Run, UnitOfWork

__all__ = [
    "CANCELLED",
    "CANCELLING",
    "COMPENSATING",
    "FAILED",
    "STEPS",
    "Admission",
    "CartTooLarge",
    "CheckoutInProgress",
    "CheckoutRequest",
    "CheckoutSaga",
    "EmptyCart",
    "Run",
    "SettlingLater",
    "UnitOfWork",
]
