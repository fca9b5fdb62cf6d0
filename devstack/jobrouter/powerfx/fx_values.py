"""Power Fx values and types as this evaluator holds them, and the coercions between them.

A value is a Python ``Decimal`` (Power Fx Decimal, the default number type), ``float`` (Float, from
``^``, ``Power``, ``Sqrt``...), ``str`` (Text), ``bool`` (Boolean) or ``None`` (Blank). Coercions
follow Power Fx: Blank stays Blank, text becomes a number through ``Value`` and a boolean only
from "true"/"false", numbers become text in .NET's format (docs/powerfx.md, "Semantics and their sources").
"""

from __future__ import annotations

import enum
import math
from decimal import Decimal

from devstack.jobrouter.powerfx.clr_numbers import (
    decimal_from_float,
    float_from_decimal,
    format_decimal,
    format_float,
    parse_number_text,
    to_clr_decimal,
)
from devstack.jobrouter.powerfx.exceptions import PowerFxEvaluationError

__all__ = [
    "FxType",
    "FxValue",
    "decimal_result",
    "float_result",
    "to_boolean",
    "to_decimal",
    "to_float",
    "to_text",
    "type_of_value",
]

type FxValue = Decimal | float | str | bool | None


class FxType(enum.Enum):
    """The static type of a Power Fx expression; the value is Power Fx's name for it."""

    DECIMAL = "Decimal"
    FLOAT = "Number"
    TEXT = "Text"
    BOOLEAN = "Boolean"
    BLANK = "Blank"

    @property
    def is_numeric(self) -> bool:
        """True for Decimal and Float."""
        return self in (FxType.DECIMAL, FxType.FLOAT)


def type_of_value(value: FxValue) -> FxType:
    """The type of a runtime value (``bool`` is checked before numbers on purpose)."""
    if value is None:
        return FxType.BLANK
    if isinstance(value, bool):
        return FxType.BOOLEAN
    if isinstance(value, str):
        return FxType.TEXT
    if isinstance(value, float):
        return FxType.FLOAT
    return FxType.DECIMAL


def _invalid(message: str, construct: str | None) -> PowerFxEvaluationError:
    return PowerFxEvaluationError(message, kind="InvalidArgument", construct=construct)


def to_decimal(value: FxValue, construct: str | None = None) -> Decimal | None:
    """``value`` as a Decimal (Blank and empty text stay Blank); InvalidArgument if it is no number."""
    if value is None:
        return None
    if isinstance(value, bool):
        return Decimal(1) if value else Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        converted = decimal_from_float(value)
        if converted is None:
            raise _invalid(f"The value {format_float(value)} does not fit in a Decimal.", construct)
        return converted
    if value == "":
        return None
    exact = parse_number_text(value)
    number = None if exact is None else to_clr_decimal(exact)
    if number is None:
        raise _invalid(f"The value '{value}' cannot be converted to a number.", construct)
    return number


def to_float(value: FxValue, construct: str | None = None) -> float | None:
    """``value`` as a Float (Blank and empty text stay Blank); InvalidArgument if it is no number."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return float_from_decimal(value)
    if value == "":
        return None
    exact = parse_number_text(value)
    number = None if exact is None else float(exact)
    if number is None or not math.isfinite(number):
        raise _invalid(f"The value '{value}' cannot be converted to a number.", construct)
    return number


def to_text(value: FxValue) -> str | None:
    """``value`` as Text: numbers in .NET's default format, booleans as "true"/"false"."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    return format_decimal(value)


def to_boolean(value: FxValue, construct: str | None = None) -> bool | None:
    """``value`` as a Boolean: a number is true when not zero; text must be "true" or "false"."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (Decimal, float)):
        return value != 0
    if value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise _invalid(f"The value '{value}' cannot be converted to a Boolean.", construct)


def decimal_result(value: Decimal, construct: str) -> Decimal:
    """An arithmetic result rounded to System.Decimal; a Numeric error when it overflows."""
    rounded = to_clr_decimal(value)
    if rounded is None:
        raise PowerFxEvaluationError(
            f"The result of {construct} is too large for a Decimal.", kind="Numeric", construct=construct
        )
    return rounded


def float_result(value: float, construct: str) -> float:
    """A Float result; a Numeric error when it is infinite or not a number."""
    if not math.isfinite(value):
        raise PowerFxEvaluationError(
            f"The result of {construct} is not a finite number.", kind="Numeric", construct=construct
        )
    return value
