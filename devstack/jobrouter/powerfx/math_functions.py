"""Power Fx math functions (``Abs``, ``Round``, ``Mod``, ``Min``, ``Sum``, ``Power``, ``Sqrt``...).

Functions that exist for both number types return a Decimal unless an argument is a Float; the
exponential family (``Power``, ``Sqrt``, ``Exp``, ``Ln``, ``Log``) is Float only, as in Power Fx.
Rounding follows Microsoft's interpreter (Round: half away from zero). Sources: docs/powerfx.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

from devstack.jobrouter.powerfx.clr_numbers import exact_context
from devstack.jobrouter.powerfx.exceptions import PowerFxEvaluationError
from devstack.jobrouter.powerfx.function_catalog import FunctionSignature, FunctionSpec, numeric_type
from devstack.jobrouter.powerfx.fx_values import FxType, FxValue, decimal_result, float_result

__all__ = ["MATH_FUNCTIONS"]

type Implementation = Callable[[Sequence[FxValue], FxType], FxValue]
_ZERO = Decimal(0)


def _number(value: FxValue) -> Decimal | float:
    """A numeric argument, Blank read as zero (Power Fx's IR replaces it before the call)."""
    if isinstance(value, (Decimal, float)) and not isinstance(value, bool):
        return value
    return _ZERO


def _float(value: FxValue) -> float:
    return value if isinstance(value, float) else float(_number(value))


def _digits(value: FxValue) -> int:
    number = _float(value)
    if math.isnan(number):
        return 0
    return int(max(-(2**31), min(2**31 - 1, number)))


def _construct(name: str) -> str:
    return f"function '{name}'"


def _div0(name: str) -> PowerFxEvaluationError:
    return PowerFxEvaluationError(f"Division by zero in {name}.", kind="Div0", construct=_construct(name))


def _abs(args: Sequence[FxValue], _: FxType) -> FxValue:
    number = _number(args[0])
    return abs(number) if isinstance(number, float) else number.copy_abs()


def _int(args: Sequence[FxValue], _: FxType) -> FxValue:
    number = _number(args[0])
    if isinstance(number, float):
        return float(math.floor(number))
    return number.to_integral_value(rounding=ROUND_FLOOR)


def _round_float(number: float, digits: int, mode: str) -> float:
    # Microsoft's RoundFloat: leaves the number alone outside 15 digits or beyond 1e20.
    if digits < -15 or digits > 15 or abs(number) > 1e20:
        return number
    sign = -1.0 if number < 0 else 1.0
    magnitude = abs(number)
    scale = 10.0**digits
    if mode == "round":
        epsilon = 1 / (scale * 1e12)
        return sign * math.floor((magnitude + 1 / (2 * scale) + epsilon) * scale) / scale
    if mode == "down":
        return sign * math.floor(magnitude * scale) / scale
    return sign * math.ceil(magnitude * scale) / scale


def _round_decimal(number: Decimal, digits: int, mode: str, name: str) -> Decimal:
    if digits < -28:
        return _ZERO
    if digits > 28:
        return number
    rounding = {"round": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}[mode]
    sign = -1 if number < 0 else 1
    with localcontext(exact_context()):
        quantum = Decimal(1).scaleb(-digits)
        magnitude = abs(number)
        # Rounding the magnitude toward floor/ceiling is rounding toward/away from zero.
        rounded = (magnitude / quantum).to_integral_value(rounding=rounding) * quantum
        return decimal_result(sign * rounded, _construct(name))


def _rounder(mode: str, name: str) -> Implementation:
    def implementation(args: Sequence[FxValue], _: FxType) -> FxValue:
        number = _number(args[0])
        digits = _digits(args[1]) if len(args) > 1 else 0
        if isinstance(number, float):
            return _round_float(number, digits, mode)
        return _round_decimal(number, digits, mode, name)

    return implementation


def _mod(args: Sequence[FxValue], _: FxType) -> FxValue:
    dividend, divisor = _number(args[0]), _number(args[1])
    if divisor == 0:
        raise _div0("Mod")
    if isinstance(dividend, float) or isinstance(divisor, float):
        result = math.fmod(float(dividend), float(divisor))
        if result != 0 and (result < 0) != (divisor < 0):
            result += float(divisor)
        return float_result(result, _construct("Mod"))
    with localcontext(exact_context()):
        remainder = dividend % divisor  # truncated remainder, sign of the dividend
        if remainder != 0 and (remainder < 0) != (divisor < 0):
            remainder += divisor
        return decimal_result(remainder, _construct("Mod"))


def _present(args: Sequence[FxValue]) -> list[Decimal | float]:
    return [_number(a) for a in args if a is not None]


def _min(args: Sequence[FxValue], _: FxType) -> FxValue:
    values = _present(args)
    return min(values) if values else None


def _max(args: Sequence[FxValue], _: FxType) -> FxValue:
    values = _present(args)
    return max(values) if values else None


def _sum(args: Sequence[FxValue], result_type: FxType) -> FxValue:
    values = _present(args)
    if not values:
        return None
    if result_type is FxType.FLOAT:
        return float_result(sum(float(v) for v in values), _construct("Sum"))
    with localcontext(exact_context()):
        return decimal_result(sum(values, _ZERO), _construct("Sum"))  # type: ignore[arg-type]


def _average(args: Sequence[FxValue], result_type: FxType) -> FxValue:
    values = _present(args)
    if not values:
        raise _div0("Average")
    if result_type is FxType.FLOAT:
        return float_result(sum(float(v) for v in values) / len(values), _construct("Average"))
    with localcontext(exact_context()):
        total = decimal_result(sum(values, _ZERO), _construct("Average"))  # type: ignore[arg-type]
        return decimal_result(total / len(values), _construct("Average"))


def _power(args: Sequence[FxValue], _: FxType) -> FxValue:
    base, exponent = _float(args[0]), _float(args[1])
    if base == 0:
        if exponent < 0:
            raise _div0("Power")
        if exponent == 0:
            return 1.0
    return _float_call(math.pow, "Power", base, exponent)


def _float_call(function: Callable[..., float], name: str, *arguments: float) -> float:
    try:
        result = function(*arguments)
    except (ValueError, OverflowError, ZeroDivisionError):
        result = math.nan
    return float_result(result, _construct(name))


def _sqrt(args: Sequence[FxValue], _: FxType) -> FxValue:
    return _float_call(math.sqrt, "Sqrt", _float(args[0]))


def _exp(args: Sequence[FxValue], _: FxType) -> FxValue:
    # Microsoft's interpreter computes Exp as Math.Pow(Math.E, x).
    return _float_call(math.pow, "Exp", math.e, _float(args[0]))


def _ln(args: Sequence[FxValue], _: FxType) -> FxValue:
    return _float_call(math.log, "Ln", _float(args[0]))


def _log(args: Sequence[FxValue], _: FxType) -> FxValue:
    base = _float(args[1]) if len(args) > 1 else 10.0
    if base == 1:
        raise _div0("Log")
    return _float_call(math.log, "Log", _float(args[0]), base)


def _numeric(
    name: str, low: int, high: int | None, impl: Implementation, *, digits: bool = False
) -> FunctionSpec:
    """A function over Decimal or Float; with ``digits`` its second argument is a Float count."""

    def signature(argument_types: tuple[FxType, ...]) -> FunctionSignature:
        kind = numeric_type(argument_types[:1] if digits else argument_types)
        parameters = tuple(FxType.FLOAT if digits and i > 0 else kind for i in range(len(argument_types)))
        return FunctionSignature(parameters, kind)

    return FunctionSpec(name, low, high, signature, impl)


def _float_only(name: str, low: int, high: int, impl: Implementation) -> FunctionSpec:
    def signature(argument_types: tuple[FxType, ...]) -> FunctionSignature:
        return FunctionSignature(tuple(FxType.FLOAT for _ in argument_types), FxType.FLOAT)

    return FunctionSpec(name, low, high, signature, impl)


MATH_FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        _numeric("Abs", 1, 1, _abs),
        _numeric("Int", 1, 1, _int),
        _numeric("Trunc", 1, 2, _rounder("down", "Trunc"), digits=True),
        _numeric("Round", 2, 2, _rounder("round", "Round"), digits=True),
        _numeric("RoundUp", 2, 2, _rounder("up", "RoundUp"), digits=True),
        _numeric("RoundDown", 2, 2, _rounder("down", "RoundDown"), digits=True),
        _numeric("Mod", 2, 2, _mod),
        _numeric("Min", 1, None, _min),
        _numeric("Max", 1, None, _max),
        _numeric("Sum", 1, None, _sum),
        _numeric("Average", 1, None, _average),
        _float_only("Power", 2, 2, _power),
        _float_only("Sqrt", 1, 1, _sqrt),
        _float_only("Exp", 1, 1, _exp),
        _float_only("Ln", 1, 1, _ln),
        _float_only("Log", 1, 2, _log),
    )
}
