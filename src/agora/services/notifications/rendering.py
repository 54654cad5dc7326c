"""What each kind of notification says: its title, its text and its email (pure functions).

Every text names the order number (``#A5D50145``, as the order's page shows it) and what happened,
so the email alone tells the customer which order it is about; the pages link the notification to
the order by its ``order_id``. Money reads as on the pages (``$563.92``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from agora.contracts.catalog import Money
from agora.contracts.catalog import format_money as money_text
from agora.contracts.orders import order_number


def format_money(money: Money) -> str:
    return money_text(money.amount, money.currency)


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
    number = order_number(facts.order_id)
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


#: the kind of the password reset's email (it is no notification: the page shows nothing)
PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind, not a secret


def password_reset_email(link: str, minutes: int) -> Rendered:
    """The password reset email: the single-use link and how long it works."""
    return Rendered(
        "Reset your Agora password",
        f"Someone (we hope you) asked to reset the password of your Agora account. Choose a new "
        f"one here within {minutes} minutes; the link works once:\n\n{link}\n\n"
        "If it was not you, ignore this email: your password stays as it is.",
    )


def email_text(rendered: Rendered, *, display_name: str = "", reference: str = "") -> str:
    """The email's text; ``reference`` (the order's full id) closes it, for a reply to support."""
    greeting = f"Hello {display_name}," if display_name else "Hello,"
    footer = f"\nOrder reference: {reference}\n" if reference else ""
    return f"{greeting}\n\n{rendered.body}\n\nThank you for shopping with Agora.\n{footer}"


def email_message(*, sender: str, recipient: str, subject: str, text: str, message_id_domain: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    # quoted-printable keeps the text readable in the raw message when a price has € or £ in it
    message.set_content(text, cte="quoted-printable")
    return message
