"""The evaluator's entry points: compile an expression once, evaluate it against job/worker labels.

``compile_expression`` parses and checks everything that does not depend on label values (syntax,
unknown or unsupported functions, argument counts); ``CompiledExpression.evaluate`` binds the
labels' types, evaluates, and returns a Power Fx value; ``to_json_value`` turns that value into
the JSON a rule yields. Every failure is a ``PowerFxError`` (docs/powerfx.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from devstack.jobrouter.powerfx.clr_numbers import to_clr_decimal
from devstack.jobrouter.powerfx.evaluator import evaluate_bound
from devstack.jobrouter.powerfx.exceptions import PowerFxError, PowerFxEvaluationError, PowerFxTypeError
from devstack.jobrouter.powerfx.fx_values import FxValue, type_of_value
from devstack.jobrouter.powerfx.syntax_parser import parse
from devstack.jobrouter.powerfx.syntax_tree import (
    BinaryOperation,
    Call,
    FieldAccess,
    Interpolation,
    Name,
    Node,
    UnaryOperation,
    to_source,
)
from devstack.jobrouter.powerfx.type_binder import bind

__all__ = ["CompiledExpression", "JsonValue", "compile_expression", "evaluate", "to_json_value"]

type JsonValue = str | int | float | bool | None
_FLOAT_EXACT_INTEGERS = 2**53


def _label_value(scope: str, name: str, raw: object) -> FxValue:
    """A label value as Power Fx sees it: JSON numbers are Decimals, null is Blank."""
    if raw is None or isinstance(raw, (bool, str)):
        return raw
    construct = f"label {scope}.{name}"
    if isinstance(raw, (int, float, Decimal)):
        try:
            exact = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        except (InvalidOperation, ValueError):
            exact = None
        number = None if exact is None else to_clr_decimal(exact)
        if number is None:
            raise PowerFxEvaluationError(
                f"The value of {construct} ({raw!r}) does not fit in a Power Fx Decimal.",
                kind="Numeric",
                construct=construct,
            )
        return number
    raise PowerFxTypeError(
        f"The value of {construct} is a {type(raw).__name__}; "
        "a label must be text, a number, a boolean or null.",
        construct=construct,
    )


def _label_values(scope: str, labels: Mapping[str, object]) -> dict[str, FxValue]:
    return {name: _label_value(scope, name, raw) for name, raw in labels.items()}


def _label_references(node: Node) -> Iterator[tuple[str, str]]:
    match node:
        case FieldAccess(record=Name(name=scope), field_name=label) if scope in ("job", "worker"):
            yield scope, label
        case FieldAccess(record=record):
            yield from _label_references(record)
        case Call(arguments=children):
            for child in children:
                yield from _label_references(child)
        case UnaryOperation(operand=operand):
            yield from _label_references(operand)
        case BinaryOperation(left=left, right=right):
            yield from _label_references(left)
            yield from _label_references(right)
        case Interpolation(parts=parts):
            for part in parts:
                if not isinstance(part, str):
                    yield from _label_references(part)
        case _:
            return


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A parsed and checked Power Fx expression, ready to evaluate against any labels."""

    text: str
    syntax: Node

    @property
    def label_references(self) -> frozenset[tuple[str, str]]:
        """Every ``(scope, label)`` the expression reads, e.g. ``("worker", "Skill")``."""
        return frozenset(_label_references(self.syntax))

    @property
    def canonical_text(self) -> str:
        """The expression re-printed with every operation parenthesised (for logs and debugging)."""
        return to_source(self.syntax)

    def evaluate(
        self, *, job_labels: Mapping[str, object], worker_labels: Mapping[str, object] | None = None
    ) -> FxValue:
        """The expression's value for these labels; ``worker`` is bound only when given.

        Classification and prioritization rules see ``job.<label>``; a best-worker scoring rule
        also sees ``worker.<label>``. A label that is absent is Blank.
        """
        try:
            values = {"job": _label_values("job", job_labels)}
            worker_values = None if worker_labels is None else _label_values("worker", worker_labels)
            if worker_values is not None:
                values["worker"] = worker_values
            bound = bind(
                self.syntax,
                expression=self.text,
                job_label_types={k: type_of_value(v) for k, v in values["job"].items()},
                worker_label_types=None
                if worker_values is None
                else {k: type_of_value(v) for k, v in worker_values.items()},
            )
            return evaluate_bound(bound, values)
        except PowerFxError as error:
            if error.expression is None:
                error.expression = self.text
            raise


def compile_expression(text: str) -> CompiledExpression:
    """Parse ``text`` once and check what does not depend on labels; raises ``PowerFxError``."""
    syntax = parse(text)
    # Binding with no labels at all finds every label-independent error: Blank is compatible with
    # every type, so no error here can be caused by a label's value.
    bind(syntax, expression=text, job_label_types={}, worker_label_types={})
    return CompiledExpression(text, syntax)


def evaluate(
    expression: str, *, job_labels: Mapping[str, object], worker_labels: Mapping[str, object] | None = None
) -> FxValue:
    """Compile and evaluate ``expression`` in one step (see ``CompiledExpression.evaluate``)."""
    return compile_expression(expression).evaluate(job_labels=job_labels, worker_labels=worker_labels)


def to_json_value(value: FxValue) -> JsonValue:
    """The JSON value a rule yields: whole numbers as ints, other numbers as floats, Blank as null."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _FLOAT_EXACT_INTEGERS:
            return int(value)
        return value
    if value == value.to_integral_value():
        return int(value)
    return float(value)
