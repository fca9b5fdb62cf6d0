"""Power Fx syntax: how text parses (precedence, names, literals, comments) and what does not parse.

The canonical form re-prints a parsed expression with every operation in parentheses, so each row
states exactly how the expression groups.
"""

from __future__ import annotations

import re

import pytest

from devstack.jobrouter.powerfx import (
    PowerFxSyntaxError,
    PowerFxUnsupportedError,
    compile_expression,
    evaluate,
)
from devstack.jobrouter.powerfx.syntax_parser import parse
from devstack.jobrouter.powerfx.syntax_tree import to_source

# Sources
GRAMMAR = "https://learn.microsoft.com/power-platform/power-fx/expression-grammar"
OPERATORS = "https://learn.microsoft.com/power-platform/power-fx/operators"
DATA_TYPES = "https://learn.microsoft.com/power-platform/power-fx/data-types"
# Precedence is that of Microsoft's parser (TexlParser.cs with Syntax/Precedence.cs in the Power-Fx
# repository), which the docs do not tabulate.
TEXL_PARSER = "https://github.com/microsoft/Power-Fx/blob/main/src/libraries/Microsoft.PowerFx.Core/Parser/TexlParser.cs"

GROUPING_ROWS = [
    pytest.param("1 + 2 * 3", "(1 + (2 * 3))", id="multiplication-binds-tighter-than-addition"),
    pytest.param("1 - 2 - 3", "((1 - 2) - 3)", id="subtraction-is-left-associative"),
    pytest.param("2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))", id="power-is-right-associative"),
    pytest.param("-2 ^ 2", "(-(2 ^ 2))", id="power-binds-tighter-than-prefix-minus"),
    pytest.param("2 * 50%", "(2 * (50%))", id="percent-is-postfix"),
    pytest.param('"a" & 1 + 2', '("a" & (1 + 2))', id="concatenation-below-arithmetic"),
    pytest.param('1 & 2 = "12"', '((1 & 2) = "12")', id="comparison-below-concatenation"),
    pytest.param('"a" in "abc" = true', '("a" in ("abc" = true))', id="in-below-comparison"),
    pytest.param("a || b && c", "(a || (b && c))", id="and-binds-tighter-than-or"),
    pytest.param("a Or b And c", "(a || (b && c))", id="word-operators-same-precedence"),
    pytest.param("!a && b", "((!a) && b)", id="not-binds-tighter-than-and"),
    pytest.param("Not a = b", "((!a) = b)", id="not-keyword-is-a-prefix-operator"),
    pytest.param("Not(a)", "Not(a)", id="not-followed-by-parenthesis-is-a-call"),
    pytest.param("And(a, b)", "And(a, b)", id="and-followed-by-parenthesis-is-a-call"),
    pytest.param("1 < 2 = true", "((1 < 2) = true)", id="comparisons-are-left-associative"),
    pytest.param("-job.Tier%", "(-(job.Tier%))", id="field-access-binds-tightest"),
    pytest.param("job!Region", "job.Region", id="bang-is-the-legacy-field-selector"),
    pytest.param("If (a, 1)", "If(a, 1)", id="space-before-call-parenthesis"),
]


@pytest.mark.parametrize(("expression", "canonical"), GROUPING_ROWS)
def test_expression_groups_like_microsofts_parser(expression: str, canonical: str) -> None:
    assert to_source(parse(expression)) == canonical


NAME_AND_LITERAL_ROWS = [
    # GRAMMAR, "Single quoted identifiers": any characters, '' for a quote.
    pytest.param("job.'my label'", {"my label": "x"}, "x", id="quoted-label-with-space"),
    pytest.param("job.'it''s'", {"it's": 1}, 1, id="quoted-label-with-escaped-quote"),
    pytest.param("job.'true'", {"true": "kw"}, "kw", id="quoted-keyword-as-label"),
    pytest.param("job.'Region'", {"Region": "NA"}, "NA", id="quoting-a-simple-name-is-allowed"),
    # GRAMMAR, "Case sensitivity": identifiers are case-sensitive, so job.region is another label.
    pytest.param("job.region", {"Region": "NA"}, None, id="label-names-are-case-sensitive"),
    pytest.param("job.Région", {"Région": "EU"}, "EU", id="unicode-letters-in-names"),
    # GRAMMAR, "Text literals": "" is a quote inside text.
    pytest.param('"The ""quoted"" text"', {}, 'The "quoted" text', id="doubled-quote-in-text"),
    pytest.param('"line 1\nline 2"', {}, "line 1\nline 2", id="newline-in-text"),
    # GRAMMAR, "Number literals".
    pytest.param(".5", {}, 0.5, id="number-starting-with-point"),
    pytest.param("5.", {}, 5, id="number-ending-with-point"),
    pytest.param("1.5e3", {}, 1500, id="number-with-exponent"),
    pytest.param("25E-1", {}, 2.5, id="number-with-negative-exponent"),
    # GRAMMAR, "Comments".
    pytest.param("1 + /* two */ 2 // three", {}, 3, id="comments-are-ignored"),
    pytest.param('"// not a comment"', {}, "// not a comment", id="comments-not-processed-in-text"),
    # DATA_TYPES, "String interpolation": {{ and }} stand for braces.
    pytest.param('$"Tier {job.Tier + 1} of {{3}}"', {"Tier": 1}, "Tier 2 of {3}", id="string-interpolation"),
    pytest.param('$"{$"{1}{2}"}"', {}, "12", id="nested-interpolation"),
    pytest.param('$"a{Blank()}b"', {}, "ab", id="blank-interpolates-as-empty"),
]


@pytest.mark.parametrize(("expression", "labels", "expected"), NAME_AND_LITERAL_ROWS)
def test_names_literals_and_comments(expression: str, labels: dict[str, object], expected: object) -> None:
    result = evaluate(expression, job_labels=labels)

    assert result == expected


SYNTAX_ERROR_ROWS = [
    pytest.param("", "ends too soon", id="empty-expression"),
    pytest.param("1 +", "ends too soon", id="missing-operand"),
    pytest.param("(1 + 2", "')' is expected", id="unclosed-parenthesis"),
    pytest.param("If(1, 2", "')' is expected", id="unclosed-call"),
    pytest.param("1 2", "Expected an operator", id="missing-operator"),
    pytest.param('"abc', "Unterminated text", id="unterminated-text"),
    pytest.param("job.'my label", "closing of identifier", id="unterminated-quoted-name"),
    pytest.param("job.''", "identifier is empty", id="empty-quoted-name"),
    pytest.param("1 /* never closed", "block comment", id="unterminated-block-comment"),
    pytest.param("1.2.3", "two decimal points", id="two-decimal-points"),
    pytest.param("1 # 2", "Unexpected character '#'", id="unknown-character"),
    pytest.param("79228162514264337593543950336", "too large", id="number-beyond-decimal-range"),
    pytest.param("1e100", "too large", id="exponent-beyond-decimal-range"),
    pytest.param('$"}"', "must be doubled", id="lone-closing-brace-in-interpolation"),
    pytest.param('$"{}"', "between '{' and '}'", id="empty-interpolation-island"),
    pytest.param("job.", "name after '.'", id="dot-without-name"),
    pytest.param("null", "reserved word", id="reserved-word"),
    pytest.param("(" * 60 + "1" + ")" * 60, "nesting too deep", id="nesting-beyond-50-levels"),
]


@pytest.mark.parametrize(("expression", "message"), SYNTAX_ERROR_ROWS)
def test_text_that_is_not_power_fx_is_a_syntax_error(expression: str, message: str) -> None:
    with pytest.raises(PowerFxSyntaxError, match=re.escape(message)) as raised:
        compile_expression(expression)

    assert raised.value.expression == expression
    assert raised.value.position is not None


UNSUPPORTED_SYNTAX_ROWS = [
    pytest.param("{a: 1}", "record literal", id="record-literal"),
    pytest.param("[1, 2]", "table literal", id="table-literal"),
    pytest.param("Set(x, 1); 2", "expression chaining ';'", id="chaining"),
    pytest.param("x As y", "operator 'As'", id="as-operator"),
    pytest.param("Self.Fill", "operator 'Self'", id="self"),
    pytest.param("Math.Abs(1)", "namespaced function call", id="namespaced-call"),
    # An emulator limit (docs/powerfx.md): deeper trees would exhaust Python's stack.
    pytest.param("+".join(["1"] * 200), "expression more than 128 operations deep", id="very-long-chain"),
]


@pytest.mark.parametrize(("expression", "construct"), UNSUPPORTED_SYNTAX_ROWS)
def test_valid_power_fx_outside_the_subset_is_unsupported(expression: str, construct: str) -> None:
    with pytest.raises(PowerFxUnsupportedError) as raised:
        compile_expression(expression)

    assert raised.value.construct == construct
    assert str(raised.value).startswith(f"unsupported {construct}")
