"""Runs a bound (typed) tree against label values and returns the Power Fx value it produces.

Pure: no clock, no I/O. Blank is ``None``; arithmetic reads it as 0, ``&`` as "", logic as false,
and ``=`` holds only between two Blanks. A Power Fx error value (division by zero, text that is
not a number...) is raised as ``PowerFxEvaluationError`` with the position of the construct.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, localcontext

from devstack.jobrouter.powerfx import bound_tree as b
from devstack.jobrouter.powerfx.clr_numbers import exact_context
from devstack.jobrouter.powerfx.exceptions import PowerFxEvaluationError
from devstack.jobrouter.powerfx.fx_values import (
    FxType,
    FxValue,
    decimal_result,
    float_result,
    to_boolean,
    to_decimal,
    to_float,
    to_text,
)
from devstack.jobrouter.powerfx.text_functions import contains_ignoring_case

__all__ = ["evaluate_bound"]

_ZERO = Decimal(0)
_ORDERINGS = {
    b.ComparisonOperator.LESS: lambda x, y: x < y,
    b.ComparisonOperator.LESS_OR_EQUAL: lambda x, y: x <= y,
    b.ComparisonOperator.GREATER: lambda x, y: x > y,
    b.ComparisonOperator.GREATER_OR_EQUAL: lambda x, y: x >= y,
}


def _coerce(value: FxValue, target: FxType, construct: str) -> FxValue:
    if target is FxType.DECIMAL:
        return to_decimal(value, construct)
    if target is FxType.FLOAT:
        return to_float(value, construct)
    if target is FxType.TEXT:
        return to_text(value)
    if target is FxType.BOOLEAN:
        return to_boolean(value, construct)
    return value


def _div0(construct: str) -> PowerFxEvaluationError:
    return PowerFxEvaluationError(f"Division by zero in {construct}.", kind="Div0", construct=construct)


def _decimal_arithmetic(operator: b.ArithmeticOperator, left: Decimal, right: Decimal) -> Decimal:
    construct = f"operator '{operator.value}'"
    with localcontext(exact_context()):
        if operator is b.ArithmeticOperator.ADD:
            return decimal_result(left + right, construct)
        if operator is b.ArithmeticOperator.SUBTRACT:
            return decimal_result(left - right, construct)
        if operator is b.ArithmeticOperator.MULTIPLY:
            return decimal_result(left * right, construct)
        if right == 0:
            raise _div0(construct)
        return decimal_result(left / right, construct)


def _float_arithmetic(operator: b.ArithmeticOperator, left: float, right: float) -> float:
    construct = f"operator '{operator.value}'"
    if operator is b.ArithmeticOperator.ADD:
        return float_result(left + right, construct)
    if operator is b.ArithmeticOperator.SUBTRACT:
        return float_result(left - right, construct)
    if operator is b.ArithmeticOperator.MULTIPLY:
        return float_result(left * right, construct)
    if operator is b.ArithmeticOperator.DIVIDE:
        if right == 0:
            raise _div0(construct)
        return float_result(left / right, construct)
    # ^ follows the Power function: 0 to a negative power is a division by zero.
    if left == 0 and right < 0:
        raise _div0(construct)
    if left == 0 and right == 0:
        return 1.0
    try:
        result = math.pow(left, right)
    except (ValueError, OverflowError):
        result = math.nan
    return float_result(result, construct)


def _equal(left: FxValue, right: FxValue) -> bool:
    if left is None or right is None:
        return left is None and right is None
    return left == right


class _Evaluation:
    def __init__(self, labels: Mapping[str, Mapping[str, FxValue]]) -> None:
        self.labels = labels

    def run(self, node: b.Bound) -> FxValue:
        try:
            return self.evaluate(node)
        except PowerFxEvaluationError as error:
            if error.position is None:
                error.position = node.position
            raise

    def evaluate(self, node: b.Bound) -> FxValue:  # noqa: C901, PLR0911, PLR0912 - one arm per node type
        match node:
            case b.Constant(value=value):
                return value
            case b.Label(scope=scope, name=name):
                return self.labels[scope].get(name)
            case b.Coerce(operand=operand, type=target, construct=construct):
                return _coerce(self.run(operand), target, construct)
            case b.Negate(operand=operand):
                value = self.run(operand)
                if isinstance(value, float):
                    return -value
                return _ZERO if not isinstance(value, Decimal) or value.is_zero() else value.copy_negate()
            case b.Percent(operand=operand):
                value = self.run(operand)
                if isinstance(value, float):
                    return value / 100
                number = value if isinstance(value, Decimal) else _ZERO
                return decimal_result(number.scaleb(-2), "operator '%'")
            case b.Not(operand=operand):
                return not self.run(operand)
            case b.Arithmetic():
                return self.arithmetic(node)
            case b.Concatenate(parts=parts):
                return "".join(self.text(part) for part in parts)
            case b.Compare():
                return self.compare(node)
            case b.SubstringTest(exact=exact, needle=needle, haystack=haystack):
                needle_text, haystack_text = self.text(needle), self.text(haystack)
                if exact:
                    return needle_text in haystack_text
                return contains_ignoring_case(needle_text, haystack_text)
            case b.Logical(conjunction=conjunction, operands=operands):
                for operand in operands:
                    if bool(self.run(operand)) is not conjunction:
                        return not conjunction
                return conjunction
            case b.IfElse(branches=branches, otherwise=otherwise):
                for condition, result in branches:
                    if self.run(condition):
                        return self.run(result)
                return None if otherwise is None else self.run(otherwise)
            case b.Switch(subject=subject, cases=cases, otherwise=otherwise):
                value = self.run(subject)
                for match, result in cases:
                    if _equal(value, self.run(match)):
                        return self.run(result)
                return None if otherwise is None else self.run(otherwise)
            case b.Coalesce(operands=operands):
                for operand in operands:
                    value = self.run(operand)
                    if value is not None and value != "":
                        return value
                return None
            case b.CallFunction(function=function, arguments=arguments, type=result_type):
                return function.implementation([self.run(a) for a in arguments], result_type)

    def text(self, node: b.Bound) -> str:
        value = self.run(node)
        return value if isinstance(value, str) else ""

    def arithmetic(self, node: b.Arithmetic) -> FxValue:
        left, right = self.run(node.left), self.run(node.right)
        if node.type is FxType.FLOAT:
            return _float_arithmetic(
                node.operator,
                left if isinstance(left, float) else 0.0,
                right if isinstance(right, float) else 0.0,
            )
        return _decimal_arithmetic(
            node.operator,
            left if isinstance(left, Decimal) else _ZERO,
            right if isinstance(right, Decimal) else _ZERO,
        )

    def compare(self, node: b.Compare) -> bool:
        left, right = self.run(node.left), self.run(node.right)
        if node.operator is b.ComparisonOperator.EQUAL:
            return _equal(left, right)
        if node.operator is b.ComparisonOperator.NOT_EQUAL:
            return not _equal(left, right)
        zero: Decimal | float = 0.0 if node.operand_type is FxType.FLOAT else _ZERO
        left_number = left if isinstance(left, (Decimal, float)) else zero
        right_number = right if isinstance(right, (Decimal, float)) else zero
        return bool(_ORDERINGS[node.operator](left_number, right_number))


def evaluate_bound(node: b.Bound, labels: Mapping[str, Mapping[str, FxValue]]) -> FxValue:
    """The value of a bound tree; ``labels`` maps "job"/"worker" to label values by name."""
    return _Evaluation(labels).run(node)
