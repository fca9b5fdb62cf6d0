"""The typed tree the binder produces and the evaluator runs: every node knows its Power Fx type.

Coercions are explicit ``Coerce`` nodes, placed where Power Fx's own binder places them, so the
evaluator never decides types. ``construct`` names the operator or function for error messages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from devstack.jobrouter.powerfx.function_catalog import FunctionSpec
from devstack.jobrouter.powerfx.fx_values import FxType, FxValue

__all__ = [
    "Arithmetic",
    "ArithmeticOperator",
    "Bound",
    "CallFunction",
    "Coalesce",
    "Coerce",
    "Compare",
    "ComparisonOperator",
    "Concatenate",
    "Constant",
    "IfElse",
    "Label",
    "Logical",
    "Negate",
    "Not",
    "Percent",
    "SubstringTest",
    "Switch",
]


class ArithmeticOperator(enum.Enum):
    """An arithmetic operator of a bound expression."""

    ADD = "+"
    SUBTRACT = "-"
    MULTIPLY = "*"
    DIVIDE = "/"
    POWER = "^"


class ComparisonOperator(enum.Enum):
    """A comparison operator of a bound expression."""

    EQUAL = "="
    NOT_EQUAL = "<>"
    LESS = "<"
    LESS_OR_EQUAL = "<="
    GREATER = ">"
    GREATER_OR_EQUAL = ">="


@dataclass(frozen=True, slots=True)
class Constant:
    """A literal value with its Power Fx type."""

    value: FxValue
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Label:
    """A ``job.<label>`` or ``worker.<label>`` reference, read from the labels at evaluation."""

    scope: str
    name: str
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Coerce:
    """A conversion the binder inserted (e.g. text to number), named after the construct that needs it."""

    operand: Bound
    type: FxType
    construct: str
    position: int


@dataclass(frozen=True, slots=True)
class Negate:
    """Unary minus."""

    operand: Bound
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Percent:
    """The postfix ``%`` operator (divides by 100)."""

    operand: Bound
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Not:
    """Logical negation (``!`` or ``Not``)."""

    operand: Bound
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """Both operands are already of ``type`` (Decimal or Float); Blank reads as zero."""

    operator: ArithmeticOperator
    left: Bound
    right: Bound
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Concatenate:
    """``&`` and string interpolation: Text parts, Blank reads as ""."""

    parts: tuple[Bound, ...]
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``operand_type`` is the type both sides are compared as (numbers of mixed kinds as Float)."""

    operator: ComparisonOperator
    left: Bound
    right: Bound
    operand_type: FxType
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class SubstringTest:
    """``in`` (ignoring case) and ``exactin`` between two texts."""

    exact: bool
    needle: Bound
    haystack: Bound
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Logical:
    """``&&``/``And``/``And()`` (``conjunction``) or ``||``/``Or``/``Or()``, short-circuiting."""

    conjunction: bool
    operands: tuple[Bound, ...]
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class IfElse:
    """``If(cond, value, cond, value, ..., otherwise)``."""

    branches: tuple[tuple[Bound, Bound], ...]
    otherwise: Bound | None
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Switch:
    """``Switch(subject, match, value, ..., otherwise)``."""

    subject: Bound
    cases: tuple[tuple[Bound, Bound], ...]
    otherwise: Bound | None
    operand_type: FxType
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class Coalesce:
    """``Coalesce(a, b, ...)``: the first operand that is not Blank."""

    operands: tuple[Bound, ...]
    type: FxType
    position: int


@dataclass(frozen=True, slots=True)
class CallFunction:
    """A call of a supported function with its bound arguments."""

    function: FunctionSpec
    arguments: tuple[Bound, ...]
    type: FxType
    position: int


type Bound = (
    Constant
    | Label
    | Coerce
    | Negate
    | Percent
    | Not
    | Arithmetic
    | Concatenate
    | Compare
    | SubstringTest
    | Logical
    | IfElse
    | Switch
    | Coalesce
    | CallFunction
)
