"""Binds a syntax tree to the labels' types: resolves names, checks types, places coercions.

This is the compile step Power Fx runs before evaluating (with its V1 compatibility rules and
Decimal as the number type). It runs per evaluation because a label's type is that of its value
on the job or worker at hand; a label that is absent is Blank. Errors Power Fx reports at compile
time are ``PowerFxTypeError``; valid Power Fx outside the subset is ``PowerFxUnsupportedError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from devstack.jobrouter.powerfx import bound_tree as b
from devstack.jobrouter.powerfx.builtin_functions import SUPPORTED_FUNCTIONS
from devstack.jobrouter.powerfx.exceptions import PowerFxTypeError, PowerFxUnsupportedError
from devstack.jobrouter.powerfx.function_catalog import LAZY_FUNCTIONS, UNSUPPORTED_FUNCTIONS, numeric_type
from devstack.jobrouter.powerfx.fx_values import FxType
from devstack.jobrouter.powerfx.syntax_tree import (
    BinaryOperation,
    BinaryOperator,
    BooleanLiteral,
    Call,
    FieldAccess,
    Interpolation,
    Name,
    Node,
    NumberLiteral,
    TextLiteral,
    UnaryOperation,
    UnaryOperator,
)

__all__ = ["bind"]

_ARITHMETIC = {
    BinaryOperator.ADD: b.ArithmeticOperator.ADD,
    BinaryOperator.SUBTRACT: b.ArithmeticOperator.SUBTRACT,
    BinaryOperator.MULTIPLY: b.ArithmeticOperator.MULTIPLY,
    BinaryOperator.DIVIDE: b.ArithmeticOperator.DIVIDE,
}
_COMPARISON = {
    BinaryOperator.EQUAL: b.ComparisonOperator.EQUAL,
    BinaryOperator.NOT_EQUAL: b.ComparisonOperator.NOT_EQUAL,
    BinaryOperator.LESS: b.ComparisonOperator.LESS,
    BinaryOperator.LESS_OR_EQUAL: b.ComparisonOperator.LESS_OR_EQUAL,
    BinaryOperator.GREATER: b.ComparisonOperator.GREATER,
    BinaryOperator.GREATER_OR_EQUAL: b.ComparisonOperator.GREATER_OR_EQUAL,
}
# Valid Power Fx arities this evaluator does not implement (the extra argument changes behaviour).
_UNSUPPORTED_ARGUMENTS = {"Text": "a format argument", "Value": "a language tag argument"}
_SCOPES = ("job", "worker")


def _operator(node: BinaryOperation | UnaryOperation) -> str:
    return f"operator '{node.operator.value}'"


class _Binder:
    def __init__(
        self, expression: str, job: Mapping[str, FxType], worker: Mapping[str, FxType] | None
    ) -> None:
        self.expression = expression
        self.scopes: dict[str, Mapping[str, FxType] | None] = {"job": job, "worker": worker}

    def type_error(self, message: str, node: Node, construct: str | None = None) -> PowerFxTypeError:
        return PowerFxTypeError(
            message, position=node.position, construct=construct, expression=self.expression
        )

    def unsupported(self, construct: str, node: Node) -> PowerFxUnsupportedError:
        return PowerFxUnsupportedError(construct, position=node.position, expression=self.expression)

    @staticmethod
    def coerce(bound: b.Bound, target: FxType, construct: str) -> b.Bound:
        if bound.type is target or target is FxType.BLANK:
            return bound
        return b.Coerce(bound, target, construct, bound.position)

    def bind(self, node: Node) -> b.Bound:  # noqa: C901, PLR0911 - one arm per node type
        match node:
            case NumberLiteral(value=value):
                return b.Constant(value, FxType.DECIMAL, node.position)
            case TextLiteral(value=value):
                return b.Constant(value, FxType.TEXT, node.position)
            case BooleanLiteral(value=value):
                return b.Constant(value, FxType.BOOLEAN, node.position)
            case Interpolation(parts=parts):
                bound_parts = tuple(
                    b.Constant(part, FxType.TEXT, node.position)
                    if isinstance(part, str)
                    else self.coerce(self.bind(part), FxType.TEXT, "string interpolation")
                    for part in parts
                )
                return b.Concatenate(bound_parts, FxType.TEXT, node.position)
            case Name(name=name):
                if name in _SCOPES and self.scopes[name] is not None:
                    raise self.unsupported(f"record value '{name}'", node)
                raise self.unknown_name(name, node)
            case FieldAccess():
                return self.bind_field(node)
            case Call():
                return self.bind_call(node)
            case UnaryOperation():
                return self.bind_unary(node)
            case BinaryOperation():
                return self.bind_binary(node)

    def unknown_name(self, name: str, node: Node) -> PowerFxTypeError:
        if name == "worker":
            return self.type_error(
                "Name isn't valid. 'worker' isn't recognized: worker labels are only bound in a "
                "best-worker scoring rule.",
                node,
                "name 'worker'",
            )
        return self.type_error(f"Name isn't valid. '{name}' isn't recognized.", node, f"name '{name}'")

    def bind_field(self, node: FieldAccess) -> b.Bound:
        record = node.record
        if isinstance(record, Name) and record.name in _SCOPES:
            labels = self.scopes[record.name]
            if labels is None:
                raise self.unknown_name(record.name, record)
            label_type = labels.get(node.field_name, FxType.BLANK)
            return b.Label(record.name, node.field_name, label_type, node.position)
        if (
            isinstance(record, FieldAccess)
            and isinstance(record.record, Name)
            and record.record.name in _SCOPES
        ):
            raise self.type_error(
                f"'{record.field_name}' is a label value, not a record: '.{node.field_name}' cannot be read.",
                node,
                "operator '.'",
            )
        bound = self.bind(record)
        raise self.type_error(
            f"Invalid use of '.': a {bound.type.value} value has no field '{node.field_name}'.",
            node,
            "operator '.'",
        )

    def bind_unary(self, node: UnaryOperation) -> b.Bound:
        operand = self.bind(node.operand)
        construct = _operator(node)
        if node.operator is UnaryOperator.NOT:
            return b.Not(self.coerce(operand, FxType.BOOLEAN, construct), FxType.BOOLEAN, node.position)
        kind = numeric_type([operand.type])
        coerced = self.coerce(operand, kind, construct)
        if node.operator is UnaryOperator.NEGATE:
            return b.Negate(coerced, kind, node.position)
        return b.Percent(coerced, kind, node.position)

    def bind_binary(self, node: BinaryOperation) -> b.Bound:
        left, right = self.bind(node.left), self.bind(node.right)
        operator, construct, position = node.operator, _operator(node), node.position
        if operator in _ARITHMETIC:
            kind = numeric_type([left.type, right.type])
            return b.Arithmetic(
                _ARITHMETIC[operator],
                self.coerce(left, kind, construct),
                self.coerce(right, kind, construct),
                kind,
                position,
            )
        if operator is BinaryOperator.POWER:
            f = FxType.FLOAT
            return b.Arithmetic(
                b.ArithmeticOperator.POWER,
                self.coerce(left, f, construct),
                self.coerce(right, f, construct),
                f,
                position,
            )
        if operator is BinaryOperator.CONCATENATE:
            parts = (self.coerce(left, FxType.TEXT, construct), self.coerce(right, FxType.TEXT, construct))
            return b.Concatenate(parts, FxType.TEXT, position)
        if operator in (BinaryOperator.IN, BinaryOperator.EXACT_IN):
            return b.SubstringTest(
                operator is BinaryOperator.EXACT_IN,
                self.coerce(left, FxType.TEXT, construct),
                self.coerce(right, FxType.TEXT, construct),
                FxType.BOOLEAN,
                position,
            )
        if operator in (BinaryOperator.AND, BinaryOperator.OR):
            operands = (
                self.coerce(left, FxType.BOOLEAN, construct),
                self.coerce(right, FxType.BOOLEAN, construct),
            )
            return b.Logical(operator is BinaryOperator.AND, operands, FxType.BOOLEAN, position)
        comparison = _COMPARISON[operator]
        if comparison in (b.ComparisonOperator.EQUAL, b.ComparisonOperator.NOT_EQUAL):
            operand_type = self.equality_type(left.type, right.type, node, construct)
        else:
            for side in (left, right):
                if not (side.type.is_numeric or side.type is FxType.BLANK):
                    raise self.type_error(
                        f"Invalid argument type ({side.type.value}) for {construct}. "
                        "Expecting one of the following: Number, Decimal.",
                        node,
                        construct,
                    )
            operand_type = numeric_type([left.type, right.type])
        return b.Compare(
            comparison,
            self.coerce(left, operand_type, construct),
            self.coerce(right, operand_type, construct),
            operand_type,
            FxType.BOOLEAN,
            position,
        )

    def equality_type(self, left: FxType, right: FxType, node: Node, construct: str) -> FxType:
        """The type two operands of ``=``/``<>`` are compared as, or a type error (V1 rules)."""
        if left is FxType.BLANK:
            return right
        if right is FxType.BLANK or left is right:
            return left
        if left.is_numeric and right.is_numeric:
            return FxType.FLOAT
        raise self.type_error(
            f"Incompatible types for comparison. These types can't be compared: {left.value}, {right.value}.",
            node,
            construct,
        )

    def check_arity(self, node: Call, low: int, high: int | None) -> None:
        count = len(node.arguments)
        if low <= count and (high is None or count <= high):
            return
        expected = f"{low} or more" if high is None else (str(low) if low == high else f"{low}-{high}")
        raise self.type_error(
            f"Invalid number of arguments to {node.function}: received {count}, expected {expected}.",
            node,
            f"function '{node.function}'",
        )

    def unify(self, results: Sequence[b.Bound], construct: str) -> tuple[FxType, list[b.Bound]]:
        """Power Fx coerces every result to the type of the first one that is not Blank."""
        target = next((r.type for r in results if r.type is not FxType.BLANK), FxType.BLANK)
        return target, [self.coerce(r, target, construct) for r in results]

    def bind_call(self, node: Call) -> b.Bound:
        name, construct = node.function, f"function '{node.function}'"
        if name in LAZY_FUNCTIONS:
            return self.bind_lazy(node, construct)
        spec = SUPPORTED_FUNCTIONS.get(name)
        if spec is None:
            if name in UNSUPPORTED_FUNCTIONS:
                raise self.unsupported(construct, node)
            raise self.type_error(f"'{name}' is an unknown or unsupported function.", node, construct)
        if (
            name in _UNSUPPORTED_ARGUMENTS
            and spec.max_arguments is not None
            and len(node.arguments) > spec.max_arguments
        ):
            raise self.unsupported(f"{construct} with {_UNSUPPORTED_ARGUMENTS[name]}", node)
        self.check_arity(node, spec.min_arguments, spec.max_arguments)
        arguments = [self.bind(a) for a in node.arguments]
        signature = spec.signature(tuple(a.type for a in arguments))
        coerced = tuple(
            self.coerce(a, t, construct) for a, t in zip(arguments, signature.parameter_types, strict=True)
        )
        return b.CallFunction(spec, coerced, signature.return_type, node.position)

    def bind_lazy(self, node: Call, construct: str) -> b.Bound:
        name, position = node.function, node.position
        if name in ("And", "Or"):
            self.check_arity(node, 1, None)
            operands = tuple(self.coerce(self.bind(a), FxType.BOOLEAN, construct) for a in node.arguments)
            return b.Logical(name == "And", operands, FxType.BOOLEAN, position)
        if name == "Coalesce":
            self.check_arity(node, 1, None)
            kind, values = self.unify([self.bind(a) for a in node.arguments], construct)
            return b.Coalesce(tuple(values), kind, position)
        if name == "If":
            self.check_arity(node, 2, None)
            bound = [self.bind(a) for a in node.arguments]
            pairs, otherwise = bound[: len(bound) // 2 * 2], bound[len(bound) // 2 * 2 :]
            kind, results = self.unify(pairs[1::2] + otherwise, construct)
            conditions = [self.coerce(c, FxType.BOOLEAN, construct) for c in pairs[0::2]]
            branches = tuple(zip(conditions, results[: len(conditions)], strict=True))
            return b.IfElse(branches, results[-1] if otherwise else None, kind, position)
        # Switch(subject, match1, result1, ..., [default])
        self.check_arity(node, 3, None)
        subject, *rest = [self.bind(a) for a in node.arguments]
        pairs, otherwise = rest[: len(rest) // 2 * 2], rest[len(rest) // 2 * 2 :]
        matches = pairs[0::2]
        operand_type = subject.type
        for match, argument in zip(matches, node.arguments[1::2], strict=False):
            operand_type = self.equality_type(operand_type, match.type, argument, construct)
        kind, results = self.unify(pairs[1::2] + otherwise, construct)
        cases = tuple(
            zip(
                (self.coerce(m, operand_type, construct) for m in matches),
                results[: len(matches)],
                strict=True,
            )
        )
        return b.Switch(
            self.coerce(subject, operand_type, construct),
            cases,
            results[-1] if otherwise else None,
            operand_type,
            kind,
            position,
        )


def bind(
    node: Node,
    *,
    expression: str,
    job_label_types: Mapping[str, FxType],
    worker_label_types: Mapping[str, FxType] | None,
) -> b.Bound:
    """The typed tree of ``node`` for labels of these types (``worker`` unbound when None)."""
    return _Binder(expression, job_label_types, worker_label_types).bind(node)
