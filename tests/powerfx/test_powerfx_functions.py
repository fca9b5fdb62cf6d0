"""Power Fx functions the evaluator supports, and the errors for those it does not.

Each table cites the function's page in the Power Fx reference; edge cases (Blank, truncation,
case) follow Microsoft's interpreter and its expression test files, cited as ``PFX/<file>``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from devstack.jobrouter.powerfx import (
    FxValue,
    PowerFxEvaluationError,
    PowerFxTypeError,
    PowerFxUnsupportedError,
    evaluate,
)

# Sources (Power Fx reference pages)
REFERENCE = "https://learn.microsoft.com/power-platform/power-fx/reference"
IF_SWITCH = f"{REFERENCE}/function-if"
LOGICALS = f"{REFERENCE}/function-logicals"
BLANK_COALESCE = f"{REFERENCE}/function-isblank-isempty"
LEN = f"{REFERENCE}/function-len"
LEFT_MID_RIGHT = f"{REFERENCE}/function-left-mid-right"
LOWER_UPPER_PROPER = f"{REFERENCE}/function-lower-upper-proper"
TRIM = f"{REFERENCE}/function-trim"
CONCATENATE = f"{REFERENCE}/function-concatenate"
REPLACE_SUBSTITUTE = f"{REFERENCE}/function-replace-substitute"
FIND = f"{REFERENCE}/function-find"
STARTSWITH = f"{REFERENCE}/function-startswith"
TEXT = f"{REFERENCE}/function-text"
VALUE = f"{REFERENCE}/function-value"
CHAR = f"{REFERENCE}/function-char"
NUMERICALS = f"{REFERENCE}/function-numericals"
ROUND = f"{REFERENCE}/function-round"
MOD = f"{REFERENCE}/function-mod"
AGGREGATES = f"{REFERENCE}/function-aggregates"
PFX = "https://github.com/microsoft/Power-Fx/blob/main/src/tests/Microsoft.PowerFx.Core.Tests.Shared/ExpressionTestCases"


def fx(expression: str) -> FxValue:
    return evaluate(expression, job_labels={})


def D(text: str) -> Decimal:
    return Decimal(text)


CONTROL_ROWS = [
    # IF_SWITCH (PFX/If.txt): branches not taken are not evaluated; a missing else is Blank.
    pytest.param("If(5 > 10, 1/0, 99)", D("99"), id="if-skips-the-branch-not-taken"),
    pytest.param("If(false, 1)", None, id="if-without-else-is-blank"),
    pytest.param("If(false, 1, false, 2, 3)", D("3"), id="if-with-several-conditions"),
    pytest.param("If(Blank(), 1, 2)", D("2"), id="if-blank-condition-is-false"),
    pytest.param("If(10, 2, 3)", D("2"), id="if-number-condition"),
    # PFX/If.txt "'If' uses 1st arg as coercion target".
    pytest.param('If(false, "3", 2)', "2", id="if-coerces-to-first-result-type"),
    pytest.param('If(false, 3, "2")', D("2"), id="if-coerces-text-to-number"),
    pytest.param('If(false, Blank(), "hi")', "hi", id="if-blank-first-result-does-not-decide"),
    pytest.param("If(false, true, 1)", True, id="if-coerces-number-to-boolean"),
    # IF_SWITCH (PFX/switch.txt).
    pytest.param('Switch(2, 1, "a", 2, "b")', "b", id="switch-match"),
    pytest.param('Switch(99, 1, "a")', None, id="switch-no-match-is-blank"),
    pytest.param('Switch(99, 1, "a", "default")', "default", id="switch-default"),
    pytest.param("Switch(Blank(), 0, 3, Blank(), 5)", D("5"), id="switch-matches-blank-only-to-blank"),
    pytest.param("Switch(1, 0, 1/0, 1, 5)", D("5"), id="switch-skips-results-not-taken"),
    pytest.param('Switch("one", "ONE", 1, "one", 2)', D("2"), id="switch-text-match-is-case-sensitive"),
    # LOGICALS (PFX/AndOrCases.txt).
    pytest.param("And(true, true, false)", False, id="and-function"),
    pytest.param("Or(false, false, true)", True, id="or-function"),
    pytest.param("And(false, 1/0 = 1)", False, id="and-function-short-circuits"),
    pytest.param("Not(Blank())", True, id="not-function-of-blank"),
    # BLANK_COALESCE (PFX/Blank.txt, Coalesce.txt).
    pytest.param("Blank()", None, id="blank"),
    pytest.param('IsBlank("")', True, id="isblank-empty-text"),
    pytest.param('IsBlank(" ")', False, id="isblank-space"),
    pytest.param("IsBlank(0)", False, id="isblank-zero"),
    pytest.param("IsBlank(Blank() + Blank())", False, id="isblank-of-arithmetic-on-blanks"),
    pytest.param("IsBlank(If(false, false))", True, id="isblank-if-without-else"),
    pytest.param("Coalesce(Blank(), 1)", D("1"), id="coalesce-skips-blank"),
    pytest.param('Coalesce("", "x")', "x", id="coalesce-skips-empty-text"),
    pytest.param('Coalesce("", Blank())', None, id="coalesce-all-empty-is-blank"),
    pytest.param('Coalesce(Blank(), "", " ")', " ", id="coalesce-keeps-a-space"),
    pytest.param("Coalesce(5, 1/0)", D("5"), id="coalesce-is-lazy"),
    pytest.param('Coalesce("", 1, 2)', "1", id="coalesce-coerces-to-first-type"),
]


@pytest.mark.parametrize(("expression", "expected"), CONTROL_ROWS)
def test_control_and_logical_functions(expression: str, expected: FxValue) -> None:
    result = fx(expression)

    assert result == expected
    assert type(result) is type(expected)


TEXT_ROWS = [
    # LEN (PFX/Len.txt); .NET counts UTF-16 code units.
    pytest.param('Len("foo")', D("3"), id="len"),
    pytest.param("Len(Blank())", D("0"), id="len-of-blank"),
    pytest.param("Len(-123.45)", D("7"), id="len-of-number"),
    pytest.param('Len("😀")', D("2"), id="len-counts-utf16-units"),
    # LEFT_MID_RIGHT (PFX/Left.txt, Right.txt, Mid.txt): counts are truncated, Blank text is "".
    pytest.param('Left("HelloWorld", 5.8)', "Hello", id="left-truncates-count"),
    pytest.param('Left("foo", 100)', "foo", id="left-beyond-length"),
    pytest.param("Left(Blank(), 1)", "", id="left-of-blank"),
    pytest.param('Left("foo", Blank())', "", id="left-blank-count"),
    pytest.param("Left(12345, 2)", "12", id="left-of-number"),
    pytest.param('Right("HelloWorld", 6)', "oWorld", id="right"),
    pytest.param("Right(true, 2)", "ue", id="right-of-boolean"),
    pytest.param('Mid("foobar", 2, 3)', "oob", id="mid"),
    pytest.param('Mid("foobar", 3)', "obar", id="mid-to-the-end"),
    pytest.param('Mid("abcdef", 3.1, 1.9)', "c", id="mid-truncates"),
    pytest.param('Mid("foo", 100)', "", id="mid-beyond-length"),
    # LOWER_UPPER_PROPER (PFX/Upper.txt, Lower.txt, Proper.txt).
    pytest.param('Upper("Important!")', "IMPORTANT!", id="upper"),
    pytest.param('Lower("E. E. Cummings")', "e. e. cummings", id="lower"),
    pytest.param("Upper(Blank())", "", id="upper-of-blank"),
    pytest.param('Proper("e. e. cummings")', "E. E. Cummings", id="proper"),
    pytest.param('Proper("hELLO WorLD")', "Hello World", id="proper-lowers-the-rest"),
    pytest.param('Proper("RSVP")', "Rsvp", id="proper-of-capitals"),
    # TRIM (PFX/string.txt).
    pytest.param('Trim("   Hello     World   ")', "Hello World", id="trim-collapses-inner-spaces"),
    pytest.param('TrimEnds("   Hello     World   ")', "Hello     World", id="trimends-keeps-inner-spaces"),
    # CONCATENATE.
    pytest.param('Concatenate("Jane", " ", "Doe")', "Jane Doe", id="concatenate"),
    pytest.param("Concatenate(1, true, Blank())", "1true", id="concatenate-coerces"),
    # REPLACE_SUBSTITUTE (PFX/string.txt, Substitute.txt, Replace.txt).
    pytest.param('Substitute("abcabcabc", "ab", "xx")', "xxcxxcxxc", id="substitute-all"),
    pytest.param('Substitute("abcabcabc", "ab", "xx", 2)', "abcxxcabc", id="substitute-instance"),
    pytest.param('Substitute("abcabcabc", "ab", "xx", 4)', "abcabcabc", id="substitute-missing-instance"),
    pytest.param('Substitute("abc", Blank(), "x")', "abc", id="substitute-blank-match"),
    pytest.param('Substitute("ABC", "b", "x")', "ABC", id="substitute-is-case-sensitive"),
    pytest.param('Replace("abcdef", 2, 3, "X")', "aXef", id="replace"),
    # FIND (PFX/Find.txt): case-sensitive, Blank when absent.
    pytest.param('Find("b", "abcb")', D("2"), id="find"),
    pytest.param('Find("b", "abcb", 3)', D("4"), id="find-from-position"),
    pytest.param('Find("B", "abc")', None, id="find-is-case-sensitive"),
    # STARTSWITH (PFX/string.txt): case-insensitive.
    pytest.param('StartsWith("FOO", "f")', True, id="startswith-ignores-case"),
    pytest.param('EndsWith("foobar", "BAR")', True, id="endswith-ignores-case"),
    pytest.param('StartsWith("foo", Blank())', True, id="startswith-blank"),
    # TEXT (PFX/Text.txt): one argument only (format strings are not supported).
    pytest.param("Text(1.50)", "1.5", id="text-of-decimal"),
    pytest.param("Text(true)", "true", id="text-of-boolean"),
    pytest.param("Text(Blank())", None, id="text-of-blank-is-blank"),
    # VALUE (PFX/Value.txt): en-US number text, "$", grouping, percent, parentheses for negatives.
    pytest.param('Value("123,456.78")', D("123456.78"), id="value-with-grouping"),
    pytest.param('Value("$ 12.34")', D("12.34"), id="value-with-currency"),
    pytest.param('Value("12.34%")', D("0.1234"), id="value-with-percent"),
    pytest.param('Value("24e3")', D("24000"), id="value-with-exponent"),
    pytest.param('Value("(123)")', D("-123"), id="value-parenthesised-negative"),
    pytest.param('Value("")', None, id="value-of-empty-text"),
    pytest.param("Value(true)", D("1"), id="value-of-boolean"),
    # CHAR (PFX/Char.txt).
    pytest.param("Char(65)", "A", id="char"),
]


@pytest.mark.parametrize(("expression", "expected"), TEXT_ROWS)
def test_text_functions(expression: str, expected: FxValue) -> None:
    result = fx(expression)

    assert result == expected
    assert type(result) is type(expected)


MATH_ROWS = [
    # NUMERICALS, ROUND, MOD, AGGREGATES (PFX/Abs.txt, Round*.txt, Int.txt, Trunc.txt, Mod_Decimal.txt,
    # MinMax.txt, Sum.txt, Average.txt).
    pytest.param("Abs(-1.5)", D("1.5"), id="abs"),
    pytest.param("Abs(Blank())", D("0"), id="abs-of-blank-is-zero"),
    pytest.param("Int(-1.5)", D("-2"), id="int-rounds-down"),
    pytest.param("Trunc(-1.5)", D("-1"), id="trunc-rounds-toward-zero"),
    pytest.param("Trunc(1.2345, 2)", D("1.23"), id="trunc-with-digits"),
    pytest.param("Round(2.5, 0)", D("3"), id="round-half-away-from-zero"),
    pytest.param("Round(-2.5, 0)", D("-3"), id="round-negative-half-away-from-zero"),
    pytest.param("Round(1.2345, 2)", D("1.23"), id="round-to-digits"),
    pytest.param("Round(1234, -2)", D("1200"), id="round-to-hundreds"),
    pytest.param("RoundUp(1.21, 1)", D("1.3"), id="roundup-away-from-zero"),
    pytest.param("RoundUp(-1.21, 1)", D("-1.3"), id="roundup-negative"),
    pytest.param("RoundDown(-1.29, 1)", D("-1.2"), id="rounddown-toward-zero"),
    pytest.param("Mod(10, 3)", D("1"), id="mod"),
    pytest.param("Mod(-10, 3)", D("2"), id="mod-takes-the-divisor-sign"),
    pytest.param("Mod(10, -3)", D("-2"), id="mod-negative-divisor"),
    pytest.param("Min(3, Blank(), 1)", D("1"), id="min-ignores-blank"),
    pytest.param("Max(1, 5, 3)", D("5"), id="max"),
    pytest.param("Min(Blank())", None, id="min-of-nothing-is-blank"),
    pytest.param("Sum(1, 2, Blank())", D("3"), id="sum-ignores-blank"),
    pytest.param("Sum(0.1, 0.2)", D("0.3"), id="sum-is-decimal"),
    pytest.param("Average(1, Blank(), 4)", D("2.5"), id="average-ignores-blank"),
    pytest.param("Power(2, 3)", 8.0, id="power-is-float"),
    pytest.param("Sqrt(16)", 4.0, id="sqrt"),
    pytest.param("Exp(0)", 1.0, id="exp"),
    pytest.param("Ln(1)", 0.0, id="ln"),
    pytest.param("Log(100)", 2.0, id="log-base-ten"),
    pytest.param("Log(8, 2)", 3.0, id="log-with-base"),
    pytest.param('Abs("-3")', D("3"), id="math-coerces-text"),
    pytest.param("Abs(-2 ^ 2)", 4.0, id="math-on-float-stays-float"),
]


@pytest.mark.parametrize(("expression", "expected"), MATH_ROWS)
def test_math_functions(expression: str, expected: FxValue) -> None:
    result = fx(expression)

    assert result == expected
    assert type(result) is type(expected)


FUNCTION_ERROR_ROWS = [
    pytest.param('If(false, 1, "Hello")', "InvalidArgument", id="if-result-not-a-number"),  # PFX/If.txt
    pytest.param('Left("foo", -1)', "InvalidArgument", id="left-negative-count"),
    pytest.param('Mid("foo", 0)', "InvalidArgument", id="mid-start-before-first"),
    pytest.param('Find("a", "abc", 0)', "InvalidArgument", id="find-start-out-of-range"),
    pytest.param('Substitute("abc", "a", "x", 0)', "InvalidArgument", id="substitute-instance-zero"),
    pytest.param('Value("xxx")', "InvalidArgument", id="value-of-words"),
    pytest.param("Char(0)", "InvalidArgument", id="char-out-of-range"),
    pytest.param("Mod(1, 0)", "Div0", id="mod-by-zero"),
    pytest.param("Average(Blank())", "Div0", id="average-of-nothing"),
    pytest.param("Log(1, 1)", "Div0", id="log-base-one"),
    pytest.param("Sqrt(-1)", "Numeric", id="sqrt-of-negative"),
    pytest.param("Ln(0)", "Numeric", id="ln-of-zero"),
]


@pytest.mark.parametrize(("expression", "kind"), FUNCTION_ERROR_ROWS)
def test_function_errors_have_power_fx_error_kinds(expression: str, kind: str) -> None:
    with pytest.raises(PowerFxEvaluationError) as raised:
        fx(expression)

    assert raised.value.kind == kind


UNSUPPORTED_FUNCTION_ROWS = [
    pytest.param("DateDiff(job.Created, Now())", "function 'DateDiff'", id="datediff"),
    pytest.param("If(Now() > job.Due, 10, 1)", "function 'Now'", id="now"),
    pytest.param('Text(job.Amount, "0.00")', "function 'Text' with a format argument", id="text-with-format"),
    pytest.param(
        'Value("1,5", "fr-FR")', "function 'Value' with a language tag argument", id="value-with-language"
    ),
    pytest.param('ParseJSON("{}")', "function 'ParseJSON'", id="parsejson"),
    pytest.param("IfError(1/0, 0)", "function 'IfError'", id="iferror"),
]


@pytest.mark.parametrize(("expression", "construct"), UNSUPPORTED_FUNCTION_ROWS)
def test_unsupported_power_fx_function_fails_naming_it(expression: str, construct: str) -> None:
    with pytest.raises(PowerFxUnsupportedError) as raised:
        fx(expression)

    assert raised.value.construct == construct
    assert str(raised.value).startswith(f"unsupported {construct}")


ARITY_AND_NAME_ROWS = [
    pytest.param(
        "Frobnicate(1)", "'Frobnicate' is an unknown or unsupported function.", id="unknown-function"
    ),
    pytest.param(
        "if(true, 1)", "'if' is an unknown or unsupported function.", id="function-names-are-case-sensitive"
    ),
    pytest.param('Left("a")', "Invalid number of arguments to Left: received 1, expected 2.", id="too-few"),
    pytest.param('Mid("a")', "Invalid number of arguments to Mid: received 1, expected 2-3.", id="range"),
    pytest.param(
        "If(true)", "Invalid number of arguments to If: received 1, expected 2 or more.", id="minimum"
    ),
    pytest.param("Blank(1)", "Invalid number of arguments to Blank: received 1, expected 0.", id="too-many"),
]


@pytest.mark.parametrize(("expression", "message"), ARITY_AND_NAME_ROWS)
def test_unknown_functions_and_wrong_argument_counts_are_type_errors(expression: str, message: str) -> None:
    with pytest.raises(PowerFxTypeError) as raised:
        fx(expression)

    assert str(raised.value).startswith(message)
