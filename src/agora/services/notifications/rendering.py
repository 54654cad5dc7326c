"""What each kind of notification says: its title, its text and its email (pure functions).

Every text names the order number (the order id) and what happened, so the email alone tells the
customer which order it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from agora.contracts.catalog import Money

#: ISO 4217 currencies without minor units (the rest used here have two).
_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "HUF"})


def format_money(money: Money) -> str:
    if money.currency.upper() in _ZERO_DECIMAL:
        return f"{money.amount:,} {money.currency}"
    sign = "-" if money.amount < 0 else ""
    whole, cents = divmod(abs(money.amount), 100)
    return f"{sign}{whole:,}.{cents:02d} {money.currency}"


@dataclass(frozen=True)
class Facts:
    """What an event told us about one order, whichever service sent it."""

    order_id: str
    total: Money | None = None
    lines: tuple[tuple[str, int], ...] = ()
    reason: str | None = None
    tracking_id: str | None = None
    carrier: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


def render(kind: str, facts: Facts) -> Rendered:
    """The notification's title and text for ``kind``; ValueError for a kind it does not know."""
    number = facts.order_id
    total = f" Total: {format_money(facts.total)}." if facts.total is not None else ""
    if kind == "order_placed":
        items = "; ".join(f"{quantity} x {name}" for name, quantity in facts.lines)
        detail = f" Items: {items}." if items else ""
        return Rendered(f"Order {number} received", f"We received your order {number}.{detail}{total}")
    if kind == "order_paid":
        return Rendered(f"Order {number} paid", f"Your payment for order {number} was captured.{total}")
    if kind == "order_failed":
        reason = f" {facts.reason}" if facts.reason else ""
        return Rendered(
            f"Order {number} could not be completed",
            f"Your order {number} could not be completed and nothing was charged.{reason}",
        )
    if kind == "order_cancelled":
        refund = f" {format_money(facts.total)} will be refunded to your card." if facts.total is not None else ""
        return Rendered(f"Order {number} cancelled", f"Your order {number} was cancelled.{refund}")
    if kind == "order_shipped":
        tracking = f" Tracking number: {facts.tracking_id}." if facts.tracking_id else ""
        carrier = f" Carrier: {facts.carrier}." if facts.carrier else ""
        return Rendered(f"Order {number} shipped", f"Your order {number} is on its way.{tracking}{carrier}")
    if kind == "order_delivered":
        return Rendered(f"Order {number} delivered", f"Your order {number} was delivered. Enjoy!")
    raise ValueError(f"unknown notification kind {kind!r}")


def email_text(rendered: Rendered, *, display_name: str = "") -> str:
    greeting = f"Hello {display_name}," if display_name else "Hello,"
    return f"{greeting}\n\n{rendered.body}\n\nThank you for shopping with Agora.\n"


def email_message(*, sender: str, recipient: str, subject: str, text: str, message_id_domain: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    message.set_content(text)
    return message
