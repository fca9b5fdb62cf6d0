"""Power Fx operators: Decimal arithmetic, Blank, coercion, text formatting, comparison and logic.

Power Fx's language docs state what the operators are; the exact behaviour of edge cases (Blank,
coercion, overflow, case) is that of Microsoft's interpreter, whose own expression test files are
cited per row as ``PFX/<file>``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from devstack.jobrouter.powerfx import (
    FxValue,
    PowerFxEvaluationError,
    PowerFxTypeError,
    evaluate,
)

# Sources
OPERATORS = "https://learn.microsoft.com/power-platform/power-fx/operators"
DATA_TYPES = "https://learn.microsoft.com/power-platform/power-fx/data-types"
BLANK = "https://learn.microsoft.com/power-platform/power-fx/reference/function-isblank-isempty"
PFX = "https://github.com/microsoft/Power-Fx/blob/main/src/tests/Microsoft.PowerFx.Core.Tests.Shared/ExpressionTestCases"


def fx(expression: str) -> FxValue:
    return evaluate(expression, job_labels={})


ARITHMETIC_ROWS = [
    # DATA_TYPES "Number": Decimal is the default number type of Power Fx hosts: base 10, exact.
    pytest.param("0.1 + 0.2", Decimal("0.3"), id="decimal-sum-is-exact"),
    pytest.param("55 / 100 * 100 - 55", Decimal(0), id="data-types-float-example-is-exact-in-decimal"),
    # System.Decimal keeps 28-29 significant digits, rounding ties to even (PFX/DecimalDotnetRuntime.txt).
    pytest.param("1 / 3", Decimal("0.3333333333333333333333333333"), id="one-third"),
    pytest.param("2 / 3", Decimal("0.6666666666666666666666666667"), id="two-thirds-rounds-up"),
    pytest.param("10 / 3", Decimal("3.3333333333333333333333333333"), id="twenty-nine-significant-digits"),
    pytest.param(
        "1.00000000000000000000000001 + 1", Decimal("2.00000000000000000000000001"), id="no-float-rounding"
    ),
    # PFX/DecimalOverflow.txt.
    pytest.param("79228162514264337593543950335 + 0.1", Decimal(2**96 - 1), id="max-decimal-plus-a-tenth"),
    pytest.param(
        "79228162514264337593543950335 * 0.1",
        Decimal("7922816251426433759354395033.5"),
        id="max-decimal-tenth",
    ),
    pytest.param("-(-79228162514264337593543950335)", Decimal(2**96 - 1), id="negating-min-decimal"),
    pytest.param("0.0000000000000000000000000001 / 100", Decimal(0), id="underflow-is-zero"),
    # OPERATORS: % is "* 1/100".
    pytest.param("20%", Decimal("0.2"), id="percent"),
    pytest.param("-5 + 3 * 2", Decimal(1), id="precedence"),
    # OPERATORS: ^ is the Power function, a Float (PFX/OpMatrix_Exp_Decimal.txt).
    pytest.param("2 ^ 10", 1024.0, id="power-is-float"),
    pytest.param("4 ^ 0.5", 2.0, id="fractional-power"),
    # Blank in arithmetic is 0 but the result is a number (PFX/Blank.txt).
    pytest.param("Blank() + Blank()", Decimal(0), id="blank-plus-blank-is-zero"),
    pytest.param("Blank() - 5", Decimal(-5), id="blank-minus-five"),
    pytest.param("Blank()%", Decimal(0), id="blank-percent"),
    # Text and booleans coerce to numbers (PFX/BasicCoercion.txt).
    pytest.param('"2" + "3"', Decimal(5), id="text-to-number"),
    pytest.param('"2" * "3"', Decimal(6), id="text-times-text"),
    pytest.param("true - false", Decimal(1), id="booleans-are-one-and-zero"),
    pytest.param('"" + 1', Decimal(1), id="empty-text-is-blank"),
    pytest.param('" 1,000.5 " + 0', Decimal("1000.5"), id="text-number-with-grouping-and-spaces"),
    pytest.param('"12%" * 1', Decimal("0.12"), id="text-percentage"),
]


@pytest.mark.parametrize(("expression", "expected"), ARITHMETIC_ROWS)
def test_arithmetic(expression: str, expected: FxValue) -> None:
    result = fx(expression)

    assert result == expected
    assert type(result) is type(expected)


ARITHMETIC_ERROR_ROWS = [
    pytest.param("1 / 0", "Div0", "operator '/'", id="division-by-zero"),
    pytest.param("5 / Blank()", "Div0", "operator '/'", id="division-by-blank"),  # PFX/Blank.txt
    pytest.param("0 ^ -1", "Div0", "operator '^'", id="zero-to-negative-power"),
    pytest.param("79228162514264337593543950335 + 1", "Numeric", "operator '+'", id="decimal-overflow"),
    pytest.param(
        "79228162514264337593543950335 * 2", "Numeric", "operator '*'", id="decimal-product-overflow"
    ),
    pytest.param("10 ^ 400", "Numeric", "operator '^'", id="float-overflow"),
    pytest.param(
        '"x" * 3', "InvalidArgument", "operator '*'", id="text-that-is-no-number"
    ),  # PFX/BasicCoercion
    pytest.param(
        '"1e100" + 0', "InvalidArgument", "operator '+'", id="text-beyond-decimal"
    ),  # DecimalOverflow
]


@pytest.mark.parametrize(("expression", "kind", "construct"), ARITHMETIC_ERROR_ROWS)
def test_arithmetic_errors(expression: str, kind: str, construct: str) -> None:
    with pytest.raises(PowerFxEvaluationError) as raised:
        fx(expression)

    assert raised.value.kind == kind
    assert raised.value.construct == construct


CONCATENATION_ROWS = [
    # OPERATORS: & joins text; numbers and booleans become text (PFX/BasicCoercion.txt).
    pytest.param('"Hello " & 42', "Hello 42", id="number-to-text"),
    pytest.param('"A" & Blank() & "B"', "AB", id="blank-is-empty-text"),  # PFX/Blank.txt
    pytest.param("Blank() & Blank()", "", id="blank-and-blank-is-empty-not-blank"),
    pytest.param("true & false", "truefalse", id="booleans-to-text"),
    # Decimal text is .NET "G" after Normalize: no trailing zeros, never scientific
    # (PFX/Text_DefaultNumber_Decimal.txt).
    pytest.param('1.50 & ""', "1.5", id="trailing-zeros-dropped"),
    pytest.param('3e28 & ""', "30000000000000000000000000000", id="large-decimal-in-full"),
    pytest.param('3e-28 & ""', "0.0000000000000000000000000003", id="small-decimal-in-full"),
    pytest.param('-0.5 & ""', "-0.5", id="negative-decimal"),
    # Float text is .NET's shortest round-trip "G": scientific beyond 15 digits or below 1E-05
    # (PFX/Text_DefaultNumber_Float.txt).
    pytest.param('10 ^ 21 & ""', "1E+21", id="large-float-scientific"),
    pytest.param('10 ^ 14 & ""', "100000000000000", id="float-fifteen-digits-in-full"),
    pytest.param('10 ^ -5 & ""', "1E-05", id="small-float-scientific"),
    pytest.param('10 ^ -4 & ""', "0.0001", id="float-ten-thousandth-in-full"),
    pytest.param('2 ^ 0.5 & ""', "1.4142135623730951", id="float-shortest-round-trip"),
]


@pytest.mark.parametrize(("expression", "expected"), CONCATENATION_ROWS)
def test_concatenation_and_number_formatting(expression: str, expected: str) -> None:
    assert fx(expression) == expected


COMPARISON_ROWS = [
    # OPERATORS: = <> < <= > >= (PFX/Equality.txt).
    pytest.param('"foo" = "foo"', True, id="equal-text"),
    # Text = is ordinal: case-sensitive (Microsoft's RuntimeHelpers.AreEqual compares with .Equals).
    pytest.param('"abc" = "ABC"', False, id="text-equality-is-case-sensitive"),
    pytest.param('"abc" <> "ABC"', True, id="text-inequality-is-case-sensitive"),
    pytest.param("1.0 = 1", True, id="decimal-scale-does-not-matter"),
    pytest.param("10% = 0.1", True, id="percent-equality"),
    pytest.param("2 ^ 2 = 4", True, id="float-and-decimal-compare-as-numbers"),
    pytest.param("1.00000000000000000000000001 < 1.00000000000000000000000002", True, id="decimal-precision"),
    # Blank equals only Blank; in ordering it reads as 0 (PFX/Blank.txt).
    pytest.param("Blank() = Blank()", True, id="blank-equals-blank"),
    pytest.param("Blank() = 0", False, id="blank-is-not-zero"),
    pytest.param('Blank() = ""', False, id="blank-is-not-empty-text"),
    pytest.param("0 <> Blank()", True, id="zero-differs-from-blank"),
    pytest.param("-5 < Blank()", True, id="blank-orders-as-zero"),
    pytest.param("Blank() < Blank()", False, id="blank-not-less-than-blank"),
    pytest.param("Blank() <= Blank()", True, id="blank-at-most-blank"),
    pytest.param("true = true", True, id="equal-booleans"),
]


@pytest.mark.parametrize(("expression", "expected"), COMPARISON_ROWS)
def test_comparison(expression: str, expected: bool) -> None:
    assert fx(expression) is expected


LOGIC_ROWS = [
    # OPERATORS: && / And, || / Or, ! / Not (PFX/AndOrCases.txt).
    pytest.param("true && false", False, id="and"),
    pytest.param("true And true", True, id="and-keyword"),
    pytest.param("false || true", True, id="or"),
    pytest.param("false Or false", False, id="or-keyword"),
    pytest.param("!true", False, id="bang"),
    pytest.param("Not false", True, id="not-keyword"),
    # Short-circuit: the right side is not evaluated (PFX/AndOrCases.txt, If.txt).
    pytest.param("false && 1/0 = 1", False, id="and-short-circuits"),
    pytest.param("true || 1/0 = 1", True, id="or-short-circuits"),
    # Blank is false; numbers are true when not zero; text must spell a boolean (PFX/AndOrCases.txt).
    pytest.param("!Blank()", True, id="not-blank"),
    pytest.param("true && Blank()", False, id="blank-is-false"),
    pytest.param("7 && 0", False, id="zero-is-false"),
    pytest.param("0 || 7", True, id="non-zero-is-true"),
    pytest.param('"TRUE" && "true"', True, id="text-true-any-case"),
    pytest.param('"" || false', False, id="empty-text-is-false"),
    # OPERATORS "in and exactin": substring tests, in ignores case (PFX/inScalar.txt, string.txt).
    pytest.param('"The" in "The keyboard and the monitor..."', True, id="in"),
    pytest.param('"the" in "THE END"', True, id="in-ignores-case"),
    pytest.param('"e" exactin "applE"', False, id="exactin-is-case-sensitive"),
    pytest.param(
        '"Windows" exactin "To display windows in the Windows operating system..."', True, id="exactin"
    ),
    pytest.param('5 in "5"', True, id="in-coerces-numbers-to-text"),
    pytest.param('Blank() in "hello"', True, id="blank-is-in-everything"),
    pytest.param('"a" in Blank()', False, id="nothing-is-in-blank"),
]


@pytest.mark.parametrize(("expression", "expected"), LOGIC_ROWS)
def test_logic_and_membership(expression: str, expected: bool) -> None:
    assert fx(expression) is expected


def test_text_that_is_not_a_boolean_fails_in_logic() -> None:
    # PFX/AndOrCases.txt: And("ABC", true) is Error({Kind:ErrorKind.InvalidArgument}).
    with pytest.raises(PowerFxEvaluationError) as raised:
        fx('"yes" && true')

    assert raised.value.kind == "InvalidArgument"


TYPE_ERROR_ROWS = [
    # Power Fx V1 rules: = between incompatible types is a compile error
    # (PFX/OpMatrix_Eq_DifferentTypes_V1Compat.txt).
    pytest.param(
        '1 = "1"',
        "Incompatible types for comparison. These types can't be compared: Decimal, Text",
        id="number-text",
    ),
    pytest.param(
        "0 = false",
        "Incompatible types for comparison. These types can't be compared: Decimal, Boolean",
        id="number-boolean",
    ),
    pytest.param(
        '"abc" <> 23',
        "Incompatible types for comparison. These types can't be compared: Text, Decimal",
        id="text-number-not-equal",
    ),
    # Ordering takes numbers only, not text or booleans (PFX/OpMatrix_Lt_Float.txt).
    pytest.param('"a" < "b"', "Invalid argument type (Text) for operator '<'", id="text-ordering"),
    pytest.param("true > false", "Invalid argument type (Boolean) for operator '>'", id="boolean-ordering"),
    pytest.param(
        '"16" <= Blank()', "Invalid argument type (Text) for operator '<='", id="text-against-blank"
    ),
]


@pytest.mark.parametrize(("expression", "message"), TYPE_ERROR_ROWS)
def test_incompatible_types_are_a_type_error_before_evaluation(expression: str, message: str) -> None:
    with pytest.raises(PowerFxTypeError) as raised:
        fx(expression)

    assert str(raised.value).startswith(message)
