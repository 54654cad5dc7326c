"""Card validation: pure functions, no I/O, so every rule is unit-tested on its own.

Each failure is a :class:`CardError` naming the card field at fault (``number``, ``exp_month``,
``exp_year``, ``cvc``). No message ever contains the number or the CVC: they end up in problem
responses and possibly in logs.
"""

from __future__ import annotations

from datetime import date

from agora.contracts.payments import CardBrand, luhn_valid

MIN_DIGITS = 12
MAX_DIGITS = 19
#: Cards are issued for a few years at most; a date further out is a typo, not a card.
MAX_YEARS_AHEAD = 20

_SEPARATORS = str.maketrans("", "", " -")


class CardError(ValueError):
    """The card is malformed; ``field`` is the card field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalize_number(raw: str) -> str:
    """The digits of a card number typed with spaces or dashes, or :class:`CardError`."""
    digits = raw.translate(_SEPARATORS)
    if not digits.isascii() or not digits.isdigit():
        raise CardError("number", "must contain only digits, spaces and dashes")
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise CardError("number", f"must have {MIN_DIGITS} to {MAX_DIGITS} digits")
    if not luhn_valid(digits):
        raise CardError("number", "is not a valid card number (checksum)")
    return digits


def _prefix_in(digits: str, length: int, low: int, high: int) -> bool:
    return low <= int(digits[:length]) <= high


def brand_of(digits: str) -> CardBrand:
    """The card network from the issuer identification number (the leading digits)."""
    if digits.startswith("4"):
        return "visa"
    if digits.startswith(("34", "37")):
        return "amex"
    if _prefix_in(digits, 2, 51, 55) or _prefix_in(digits, 4, 2221, 2720):
        return "mastercard"
    if digits.startswith(("6011", "65")) or _prefix_in(digits, 3, 644, 649) or _prefix_in(digits, 6, 622126, 622925):
        return "discover"
    return "other"


def check_exp_month(month: int) -> int:
    if not 1 <= month <= 12:
        raise CardError("exp_month", "must be a month from 1 to 12")
    return month


def check_exp_year(year: int, today: date) -> int:
    if year < today.year:
        raise CardError("exp_year", "the card has expired")
    if year > today.year + MAX_YEARS_AHEAD:
        raise CardError("exp_year", f"must be at most {MAX_YEARS_AHEAD} years ahead")
    return year


def check_expiry(month: int, year: int, today: date) -> None:
    """A card is good through the last day of its expiry month.

    A year in the past (or absurdly far ahead) is the year's fault; a month already over in the
    current year is the month's.
    """
    check_exp_year(year, today)
    check_exp_month(month)
    if year == today.year and month < today.month:
        raise CardError("exp_month", "the card has expired")


def cvc_length(brand: CardBrand | None) -> tuple[int, ...]:
    """American Express prints four digits; the others three; unknown (bad number): either."""
    if brand is None:
        return (3, 4)
    return (4,) if brand == "amex" else (3,)


def check_cvc(cvc: str, brand: CardBrand | None) -> str:
    lengths = cvc_length(brand)
    if not (cvc.isascii() and cvc.isdigit()) or len(cvc) not in lengths:
        expected = " or ".join(str(n) for n in lengths)
        raise CardError("cvc", f"must be {expected} digits")
    return cvc


def last4(digits: str) -> str:
    return digits[-4:]
