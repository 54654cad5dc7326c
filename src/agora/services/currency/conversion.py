"""Money conversion between currencies: pure functions over ``decimal.Decimal``, never ``float``.

Amounts are integers in each currency's minor units (ISO 4217 exponent: 2 for cents, 0 for yen),
rates are "units per US dollar". The conversion is

    major     = amount / 10**exponent_from
    converted = major / rate_from * rate_to
    minor     = converted quantized to 10**-exponent_to, rounding half to even

Why half to even (banker's rounding): a shop converts many prices, and ties are common
(``0.5`` and ``1.25`` rates make exact half cents). Rounding halves up would add half a minor
unit to every tie, a bias that accumulates across a cart and across orders; half to even
rounds ties up and down equally often, so totals stay unbiased. It is also the rounding of
IEEE 754 and of ``decimal``'s default context, what accountants call "banker's rounding".
Each conversion is off by at most half a minor unit of the target currency.

Why one division under an 80-digit context: the formula is evaluated as
``amount * rate_to * 10**exponent_to / (10**exponent_from * rate_from)``. The multiplications
are exact (amounts are at most 10**15 and rates have at most 20 digits). The single division
is the only inexact step, and its error is far below what could move a result across a half
unit: the exact quotient is either a tie (a short, exactly representable decimal) or at least
about 10**-22 away from one (numerator and denominator are multiples of 10**-10, the
denominator is below 10**12), while 80 significant digits on a quotient below 10**40 leave an
error under 10**-40. So the one rounding that matters is the final ``quantize``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

#: Amounts accepted for conversion, in minor units (0 to 10**15: ten trillion dollars in cents).
MAX_AMOUNT = 10**15
#: A result above this does not fit a signed 64-bit integer column, so it is refused.
MAX_RESULT = 10**18 - 1
#: Rates are stored with at most this many digits after the point and in total (Numeric(20, 10)).
RATE_DECIMAL_PLACES = 10
RATE_MAX_DIGITS = 20
#: Significant digits of the informational ``rate`` returned next to a conversion.
DISPLAY_RATE_DIGITS = 12

_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN)


class ConversionOverflowError(ValueError):
    """The converted amount would exceed :data:`MAX_RESULT`."""


def convert_minor(
    amount: int,
    *,
    rate_from: Decimal,
    exponent_from: int,
    rate_to: Decimal,
    exponent_to: int,
) -> int:
    """``amount`` minor units of one currency in minor units of another (see the module docstring)."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    if rate_from <= 0 or rate_to <= 0:
        raise ValueError("rates must be positive")
    with localcontext(_CONTEXT):
        numerator = Decimal(amount) * rate_to * Decimal(10) ** exponent_to
        denominator = Decimal(10) ** exponent_from * rate_from
        minor = (numerator / denominator).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    if minor > MAX_RESULT:
        raise ConversionOverflowError(f"the converted amount exceeds {MAX_RESULT}")
    return int(minor)


def cross_rate(rate_from: Decimal, rate_to: Decimal) -> Decimal:
    """Units of the target currency per unit of the source, to :data:`DISPLAY_RATE_DIGITS` digits."""
    with localcontext(Context(prec=DISPLAY_RATE_DIGITS, rounding=ROUND_HALF_EVEN)):
        return (rate_to / rate_from).normalize()


def canonical(rate: Decimal) -> str:
    """The shortest plain (never scientific) decimal text of ``rate``: ``0.920`` -> ``"0.92"``."""
    return format(rate.normalize(), "f")
