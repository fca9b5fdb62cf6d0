"""The Power Fx syntax tree the parser builds, and its printer back to Power Fx text.

Nodes are frozen and untyped: they say what was written. Types and coercions are decided later,
once the labels' types are known (see ``type_binder``). ``position`` (a character offset) is kept
for error messages and left out of equality, so a printed and re-parsed tree equals the original.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from devstack.jobrouter.powerfx.exceptions import PowerFxSyntaxError
from devstack.jobrouter.powerfx.tokenizer import TokenKind, tokenize

__all__ = [
    "BinaryOperation",
    "BinaryOperator",
    "BooleanLiteral",
    "Call",
    "FieldAccess",
    "Interpolation",
    "Name",
    "Node",
    "NumberLiteral",
    "TextLiteral",
    "UnaryOperation",
    "UnaryOperator",
    "quote_identifier",
    "to_source",
]


class UnaryOperator(enum.Enum):
    """Prefix ``-`` and ``!``/``Not``, postfix ``%``."""

    NEGATE = "-"
    NOT = "!"
    PERCENT = "%"


class BinaryOperator(enum.Enum):
    """Infix operators; the value is the canonical spelling (``&&`` may also be written ``And``)."""

    POWER = "^"
    MULTIPLY = "*"
    DIVIDE = "/"
    ADD = "+"
    SUBTRACT = "-"
    CONCATENATE = "&"
    EQUAL = "="
    NOT_EQUAL = "<>"
    LESS = "<"
    LESS_OR_EQUAL = "<="
    GREATER = ">"
    GREATER_OR_EQUAL = ">="
    IN = "in"
    EXACT_IN = "exactin"
    AND = "&&"
    OR = "||"


@dataclass(frozen=True, slots=True)
class NumberLiteral:
    """A number as written (``text``) and its value (already rounded to Power Fx's Decimal)."""

    text: str
    value: Decimal
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class TextLiteral:
    """A double-quoted text literal, decoded."""

    value: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class BooleanLiteral:
    """``true`` or ``false``."""

    value: bool
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Interpolation:
    """``$"text {expression} text"``: literal segments and embedded expressions, in order."""

    parts: tuple[str | Node, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Name:
    """A first name such as ``job``; ``name`` is unquoted."""

    name: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class FieldAccess:
    """``record.field`` (``job.Region``, ``job.'my label'``); ``field_name`` is unquoted."""

    record: Node
    field_name: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A function call ``Name(arguments)``."""

    function: str
    arguments: tuple[Node, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class UnaryOperation:
    """A prefix or postfix operator applied to one operand."""

    operator: UnaryOperator
    operand: Node
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class BinaryOperation:
    """An infix operator between two operands."""

    operator: BinaryOperator
    left: Node
    right: Node
    position: int = field(default=0, compare=False)


type Node = (
    NumberLiteral
    | TextLiteral
    | BooleanLiteral
    | Interpolation
    | Name
    | FieldAccess
    | Call
    | UnaryOperation
    | BinaryOperation
)


def _is_simple_identifier(name: str, *, called: bool = False) -> bool:
    try:
        tokens = tokenize(name + "()" if called else name)
    except PowerFxSyntaxError:
        return False
    return tokens[0].kind is TokenKind.IDENTIFIER and tokens[0].text == name


def quote_identifier(name: str, *, called: bool = False) -> str:
    """``name`` as Power Fx source: bare if it is a simple identifier, else single-quoted.

    ``called`` is for a function name, where ``And``/``Or``/``Not`` are names, not operators.
    """
    if _is_simple_identifier(name, called=called):
        return name
    return "'" + name.replace("'", "''") + "'"


def _quote_text(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def to_source(node: Node) -> str:  # noqa: C901, PLR0911, PLR0912 - one arm per node type
    """Power Fx text that parses back to ``node`` (operations are fully parenthesised)."""
    match node:
        case NumberLiteral(text=text):
            return text
        case TextLiteral(value=value):
            return _quote_text(value)
        case BooleanLiteral(value=value):
            return "true" if value else "false"
        case Interpolation(parts=parts):
            out = ['$"']
            for part in parts:
                if isinstance(part, str):
                    out.append(part.replace('"', '""').replace("{", "{{").replace("}", "}}"))
                else:
                    out.append("{" + to_source(part) + "}")
            return "".join(out) + '"'
        case Name(name=name):
            return quote_identifier(name)
        case FieldAccess(record=record, field_name=field_name):
            return f"{to_source(record)}.{quote_identifier(field_name)}"
        case Call(function=function, arguments=arguments):
            return f"{quote_identifier(function, called=True)}({', '.join(to_source(a) for a in arguments)})"
        case UnaryOperation(operator=UnaryOperator.PERCENT, operand=operand):
            return f"({to_source(operand)}%)"
        case UnaryOperation(operator=operator, operand=operand):
            return f"({operator.value}{to_source(operand)})"
        case BinaryOperation(operator=operator, left=left, right=right):
            return f"({to_source(left)} {operator.value} {to_source(right)})"
