"""Power Fx numbers as its .NET interpreter holds them: Decimal is System.Decimal, Float is a double.

System.Decimal keeps at most 28 digits after the point in a 96-bit integer, so results are rounded
(ties to even) to fit and anything beyond +/-79228162514264337593543950335 overflows. Text is
produced the way .NET formats these values, and text is read as en-US ``NumberStyles.Any`` with
Power Fx's own sign and percent handling (docs/powerfx.md, "Semantics and their sources").
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext

__all__ = [
    "MAX_DECIMAL",
    "decimal_from_float",
    "exact_context",
    "float_from_decimal",
    "format_decimal",
    "format_float",
    "parse_number_text",
    "to_clr_decimal",
]

MAX_DECIMAL = Decimal(2**96 - 1)  # 79228162514264337593543950335
_MAX_SCALE = 28
_ZERO = Decimal(0)


def exact_context() -> Context:
    """A context wide enough that sums and products of System.Decimal values are exact."""
    return Context(prec=100, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999)


def to_clr_decimal(value: Decimal) -> Decimal | None:
    """``value`` rounded the way System.Decimal stores it, or None when it is out of range."""
    if not value.is_finite():
        return None
    if value.is_zero() or value.adjusted() < -_MAX_SCALE - 1:  # below half of 1e-28: rounds to 0
        return _ZERO
    if value.adjusted() > _MAX_SCALE:  # 1e29 and beyond
        return None
    with localcontext(exact_context()):
        scale = min(_MAX_SCALE, max(0, _MAX_SCALE - value.adjusted()))
        while True:
            mantissa = value.scaleb(scale).to_integral_value(rounding=ROUND_HALF_EVEN)
            if abs(mantissa) <= MAX_DECIMAL:
                break
            if scale == 0:
                return None
            scale -= 1
        if mantissa.is_zero():
            return _ZERO
        return mantissa.scaleb(-scale)


_DOUBLE_POWERS_OF_TEN = tuple(float(f"1e{n}") for n in range(_MAX_SCALE + 1))


def float_from_decimal(value: Decimal) -> float:
    """A Decimal converted like .NET's ``(double)decimal`` (which is not always correctly rounded)."""
    sign, digits, exponent = value.as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    if not isinstance(exponent, int) or mantissa == 0:
        return 0.0
    if exponent > 0:
        mantissa, exponent = mantissa * 10**exponent, 0
    scale = -exponent
    while scale > _MAX_SCALE:  # more digits than System.Decimal keeps: drop them first
        mantissa, scale = mantissa // 10, scale - 1
    low, high = mantissa & (2**64 - 1), mantissa >> 64
    result = (float(low) + float(high) * 18446744073709551616.0) / _DOUBLE_POWERS_OF_TEN[scale]
    return -result if sign else result


def decimal_from_float(value: float) -> Decimal | None:
    """A double converted like .NET's ``(decimal)double``: 15 significant digits, or None."""
    if not math.isfinite(value):
        return None
    return to_clr_decimal(Decimal(format(value, ".15g")))


def format_decimal(value: Decimal) -> str:
    """``Text(value)`` for a Decimal: .NET "G" after Normalize, never in scientific notation."""
    if value.is_zero():
        return "0"
    with localcontext(exact_context()):
        return format(value.normalize(), "f")


def format_float(value: float) -> str:
    """``Text(value)`` for a Float: .NET's shortest round-trip "G" format (e.g. ``3E+21``)."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_text, exponent = _shortest_digits(abs(value))
    decimal_position = exponent + 1  # where the point falls after the first digit
    max_digits = max(len(digits_text), 15)
    if decimal_position > max_digits or decimal_position < -3:
        mantissa = digits_text[0] + ("." + digits_text[1:] if len(digits_text) > 1 else "")
        exponent_sign = "+" if exponent >= 0 else "-"
        return f"{sign}{mantissa}E{exponent_sign}{abs(exponent):02d}"
    if decimal_position <= 0:
        return f"{sign}0.{'0' * -decimal_position}{digits_text}"
    if decimal_position >= len(digits_text):
        return sign + digits_text + "0" * (decimal_position - len(digits_text))
    return f"{sign}{digits_text[:decimal_position]}.{digits_text[decimal_position:]}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest round-trip significant digits of a positive double and its decimal exponent."""
    mantissa, _, exponent_text = repr(value).partition("e")
    exponent = int(exponent_text) if exponent_text else 0
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    leading_zeros = len(whole + fraction) - len(digits)
    exponent += len(whole) - 1 - leading_zeros
    return digits.rstrip("0") or "0", exponent


# decimal.TryParse(text, NumberStyles.Any, en-US) after Power Fx has taken off signs and percents:
# white space, a "$" currency symbol, one sign (leading or trailing) or parentheses, thousands
# separators after the first digit, a decimal point and an exponent.
_DOTNET_NUMBER = re.compile(
    r"""\s*(?:\$\s*)?(?P<open>\()?\s*
    (?:\$\s*)?(?P<lead>[+-])?\s*(?:\$\s*)?
    (?P<whole>[0-9][0-9,]*)?(?:\.(?P<fraction>[0-9]*))?
    (?:[eE](?P<exponent>[+-]?[0-9]+))?
    \s*(?:\$\s*)?(?P<trail>[+-])?\s*(?P<close>\))?\s*""",
    re.VERBOSE,
)


def _parse_dotnet_number(text: str) -> Decimal | None:
    match = _DOTNET_NUMBER.fullmatch(text)
    if match is None:
        return None
    whole = (match["whole"] or "").replace(",", "")
    fraction = match["fraction"] or ""
    if not whole and not fraction:
        return None
    if (match["open"] is None) != (match["close"] is None):
        return None
    signs = [s for s in (match["lead"], match["trail"]) if s]
    if len(signs) > 1 or (signs and match["open"]):
        return None
    negative = signs == ["-"] or match["open"] is not None
    try:
        with localcontext(exact_context()):
            number = Decimal(f"{whole or '0'}.{fraction or '0'}e{match['exponent'] or '0'}")
    except (InvalidOperation, ArithmeticError):
        return None
    return number.copy_negate() if negative else number


def _unsigned(text: str) -> Decimal | None:
    text = text.strip()
    if not text or text[0] in "+-%" or text[-1] == "%":
        return None
    return _parse_dotnet_number(text)


def _signed_possibly_percent(text: str) -> Decimal | None:
    text = text.strip()
    if not text or text[0] in "+-":
        return None
    if text[0] == "%" or text[-1] == "%":
        if text[0] == "%" and text[-1] == "%":
            return None
        number = _unsigned(text[1:] if text[0] == "%" else text[:-1])
        return None if number is None else number.scaleb(-2)
    return _unsigned(text)


def _signed_no_percent(text: str) -> Decimal | None:
    text = text.strip()
    if not text or text[0] in "+-%" or text[-1] == "%":
        return None
    return _unsigned(text)


def _possibly_signed_no_percent(text: str) -> Decimal | None:
    text = text.strip()
    if not text:
        return None
    if text[0] == "+":
        return _signed_possibly_percent(text[1:])
    if text[0] == "-":
        number = _signed_possibly_percent(text[1:])
        return None if number is None else number.copy_negate()
    return _unsigned(text)


def _percentage(text: str) -> Decimal | None:
    text = text.strip()
    if not text or text[0] == "%" or text[-1] == "%":
        return None
    if text[0] == "+":
        return _signed_no_percent(text[1:])
    if text[0] == "-":
        number = _signed_no_percent(text[1:])
        return None if number is None else number.copy_negate()
    return _possibly_signed_no_percent(text)


def parse_number_text(text: str) -> Decimal | None:
    """The exact number a text spells (Power Fx ``Value``, before rounding), or None if none."""
    text = text.strip()
    if not text:
        return None
    starts, ends = text[0] == "%", text[-1] == "%"
    if starts and ends:
        return None
    if starts or ends:
        number = _percentage(text[1:] if starts else text[:-1])
        if number is None:
            return None
        return number.scaleb(-2)
    return _possibly_signed_no_percent(text)
