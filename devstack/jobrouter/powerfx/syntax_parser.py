"""Parses Power Fx expression text into a syntax tree, with the precedences of Microsoft's TexlParser.

From loosest to tightest: ``||``/``Or``, ``&&``/``And``, ``in``/``exactin``, comparisons, ``&``,
``+``/``-``, ``*``/``/``, prefix ``-``/``!``/``Not``, ``^`` (right-associative), postfix ``%``, then
``.`` field access. Valid Power Fx outside the supported subset (records, tables, ``As``, chaining)
raises ``PowerFxUnsupportedError`` naming it; anything else unparsable is a ``PowerFxSyntaxError``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from devstack.jobrouter.powerfx.clr_numbers import to_clr_decimal
from devstack.jobrouter.powerfx.exceptions import PowerFxError, PowerFxSyntaxError, PowerFxUnsupportedError
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
from devstack.jobrouter.powerfx.tokenizer import Token, TokenKind, tokenize

__all__ = ["MAX_NESTING", "MAX_TREE_DEPTH", "parse"]

MAX_NESTING = 50  # Power Fx: "Expression nesting too deep ... nested more than 50 levels"
# A flat chain such as 1+1+...+1 nests no parentheses but builds a tree as deep as it is long; the
# binder and evaluator recurse on that depth, so deeper trees are refused instead of exhausting
# Python's stack. Microsoft's parser has no such limit: this is an emulator limitation.
MAX_TREE_DEPTH = 128

# Precedence levels of TexlParser (Precedence.cs).
_OR, _AND, _IN, _COMPARE, _CONCAT, _ADD, _MUL, _PREFIX = 2, 3, 4, 5, 6, 7, 8, 11

_BINARY: dict[str, tuple[int, BinaryOperator]] = {
    "||": (_OR, BinaryOperator.OR),
    "Or": (_OR, BinaryOperator.OR),
    "&&": (_AND, BinaryOperator.AND),
    "And": (_AND, BinaryOperator.AND),
    "in": (_IN, BinaryOperator.IN),
    "exactin": (_IN, BinaryOperator.EXACT_IN),
    "=": (_COMPARE, BinaryOperator.EQUAL),
    "<>": (_COMPARE, BinaryOperator.NOT_EQUAL),
    "<": (_COMPARE, BinaryOperator.LESS),
    "<=": (_COMPARE, BinaryOperator.LESS_OR_EQUAL),
    ">": (_COMPARE, BinaryOperator.GREATER),
    ">=": (_COMPARE, BinaryOperator.GREATER_OR_EQUAL),
    "&": (_CONCAT, BinaryOperator.CONCATENATE),
    "+": (_ADD, BinaryOperator.ADD),
    "-": (_ADD, BinaryOperator.SUBTRACT),
    "*": (_MUL, BinaryOperator.MULTIPLY),
    "/": (_MUL, BinaryOperator.DIVIDE),
}

_PREFIX_OPERATORS = {"-": UnaryOperator.NEGATE, "!": UnaryOperator.NOT, "Not": UnaryOperator.NOT}

_UNSUPPORTED_PUNCTUATORS = {
    "{": "record literal",
    "[": "table literal",
    "@": "disambiguation operator '@'",
    ";": "expression chaining ';'",
    "=>": "operator '=>'",
    ":=": "operator ':='",
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not TokenKind.END:
            self.index += 1
        return token

    def at(self, kind: TokenKind) -> bool:
        return self.current.kind is kind

    def is_symbol(self, text: str) -> bool:
        token = self.current
        return token.kind in (TokenKind.PUNCTUATOR, TokenKind.KEYWORD) and token.text == text

    def syntax_error(self, message: str, token: Token) -> PowerFxSyntaxError:
        return PowerFxSyntaxError(message, position=token.position, construct="syntax", expression=self.text)

    def unsupported(self, construct: str, token: Token) -> PowerFxUnsupportedError:
        return PowerFxUnsupportedError(construct, position=token.position, expression=self.text)

    def expect(self, text: str) -> Token:
        if not self.is_symbol(text):
            found = self.current.text or "the end of the expression"
            raise self.syntax_error(
                f"Unexpected characters: found '{found}' where '{text}' is expected.", self.current
            )
        return self.advance()

    def parse_all(self) -> Node:
        node = self.expression(0)
        if self.current.kind is not TokenKind.END:
            raise self.operator_expected()
        return node

    def operator_expected(self) -> PowerFxError:
        token = self.current
        if token.kind is TokenKind.PUNCTUATOR and token.text in _UNSUPPORTED_PUNCTUATORS:
            return self.unsupported(_UNSUPPORTED_PUNCTUATORS[token.text], token)
        if token.kind is TokenKind.KEYWORD and token.text == "As":
            return self.unsupported("operator 'As'", token)
        return self.syntax_error(f"Expected an operator such as +, * or & before '{token.text}'.", token)

    def expression(self, min_precedence: int) -> Node:  # noqa: C901 - precedence climbing reads best as one loop
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise self.syntax_error(
                    f"Expression nesting too deep: more than {MAX_NESTING} levels.", self.current
                )
            node = self.operand()
            while True:
                token = self.current
                if token.kind in (TokenKind.PUNCTUATOR, TokenKind.KEYWORD):
                    symbol = token.text
                    if symbol == "%":
                        self.advance()
                        node = UnaryOperation(UnaryOperator.PERCENT, node, token.position)
                        continue
                    if symbol in (".", "!"):
                        self.advance()
                        node = FieldAccess(node, self.field_name(), token.position)
                        continue
                    if symbol == "^":
                        self.advance()
                        right = self.expression(_PREFIX)
                        node = BinaryOperation(BinaryOperator.POWER, node, right, token.position)
                        continue
                    if symbol in _BINARY:
                        precedence, operator = _BINARY[symbol]
                        if min_precedence > precedence:
                            return node
                        self.advance()
                        right = self.expression(precedence + 1)
                        node = BinaryOperation(operator, node, right, token.position)
                        continue
                    if symbol == "(" and isinstance(node, FieldAccess):
                        raise self.unsupported("namespaced function call", token)
                    if symbol in {"As", ";"}:
                        raise self.operator_expected()
                return node
        finally:
            self.depth -= 1

    def field_name(self) -> str:
        token = self.current
        if token.kind is not TokenKind.IDENTIFIER:
            raise self.syntax_error("Expected a name after '.'.", token)
        self.advance()
        return token.value

    def operand(self) -> Node:
        token = self.advance()
        if token.kind is TokenKind.NUMBER:
            return NumberLiteral(token.text, self.number_value(token), token.position)
        if token.kind is TokenKind.TEXT:
            return TextLiteral(token.value, token.position)
        if token.kind is TokenKind.INTERPOLATION_START:
            return self.interpolation(token)
        if token.kind is TokenKind.IDENTIFIER:
            if self.is_symbol("("):
                return self.call(token)
            if self.is_symbol("@"):
                raise self.unsupported("disambiguation operator '@'", self.current)
            return Name(token.value, token.position)
        return self.symbol_operand(token)

    def symbol_operand(self, token: Token) -> Node:
        """An operand that starts with a keyword or punctuator: a boolean, parentheses, a prefix."""
        text = token.text if token.kind in (TokenKind.KEYWORD, TokenKind.PUNCTUATOR) else ""
        if text in ("true", "false"):
            return BooleanLiteral(text == "true", token.position)
        if text == "(":
            node = self.expression(0)
            self.expect(")")
            return node
        prefix = _PREFIX_OPERATORS.get(text)
        if prefix is not None:
            return UnaryOperation(prefix, self.expression(_PREFIX), token.position)
        if text in ("Self", "Parent"):
            raise self.unsupported(f"operator '{text}'", token)
        if text in _UNSUPPORTED_PUNCTUATORS:
            raise self.unsupported(_UNSUPPORTED_PUNCTUATORS[text], token)
        if token.kind is TokenKind.END:
            raise self.syntax_error("Expected an operand: the expression ends too soon.", token)
        raise self.syntax_error(f"Unexpected characters: '{token.text}' cannot start an operand.", token)

    def number_value(self, token: Token) -> Decimal:
        try:
            exact = Decimal(token.text)
        except (InvalidOperation, ArithmeticError):
            exact = None
        value = None if exact is None else to_clr_decimal(exact)
        if value is None:
            raise self.syntax_error(f"Numeric value is too large: {token.text}.", token)
        return value

    def call(self, name: Token) -> Call:
        self.expect("(")
        arguments: list[Node] = []
        if not self.is_symbol(")"):
            arguments.append(self.expression(0))
            while self.is_symbol(","):
                self.advance()
                arguments.append(self.expression(0))
        self.expect(")")
        return Call(name.value, tuple(arguments), name.position)

    def interpolation(self, start: Token) -> Interpolation:
        parts: list[str | Node] = []
        while True:
            token = self.advance()
            if token.kind is TokenKind.INTERPOLATION_END:
                return Interpolation(tuple(parts), start.position)
            if token.kind is TokenKind.INTERPOLATION_TEXT:
                parts.append(token.value)
            elif token.kind is TokenKind.ISLAND_START:
                if self.at(TokenKind.ISLAND_END):
                    raise self.syntax_error("Expected an expression between '{' and '}'.", self.current)
                parts.append(self.expression(0))
                if not self.at(TokenKind.ISLAND_END):
                    raise self.operator_expected()
                self.advance()
            else:  # the tokenizer only yields the kinds above inside $"..."
                raise self.syntax_error("Malformed interpolated text.", token)


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case FieldAccess(record=record):
            return (record,)
        case Call(arguments=arguments):
            return arguments
        case UnaryOperation(operand=operand):
            return (operand,)
        case BinaryOperation(left=left, right=right):
            return (left, right)
        case Interpolation(parts=parts):
            return tuple(part for part in parts if not isinstance(part, str))
        case _:
            return ()


def _depth(root: Node) -> int:
    deepest, pending = 0, [(root, 1)]
    while pending:  # iterative, so measuring a deep tree cannot exhaust the stack either
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in _children(node))
    return deepest


def parse(text: str) -> Node:
    """The syntax tree of a Power Fx expression; raises ``PowerFxSyntaxError`` or unsupported."""
    tree = _Parser(text).parse_all()
    if _depth(tree) > MAX_TREE_DEPTH:
        raise PowerFxUnsupportedError(
            f"expression more than {MAX_TREE_DEPTH} operations deep", position=0, expression=text
        )
    return tree
