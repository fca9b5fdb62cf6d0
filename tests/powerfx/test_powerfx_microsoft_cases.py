"""Optional cross-check: Microsoft's own Power Fx expression tests, run through this evaluator.

Microsoft's interpreter ships its semantics as ``.txt`` files of ``>> expression`` / expected result
pairs (https://github.com/microsoft/Power-Fx/tree/main/src/tests/Microsoft.PowerFx.Core.Tests.Shared/ExpressionTestCases).
Point ``POWERFX_TEST_CASES`` at that folder of a checkout to run every case that uses only what this
evaluator supports in the configuration it follows (Decimal numbers, Power Fx 1.0 rules); without the
variable the test is skipped, so ``make test`` needs no checkout. docs/powerfx.md reports the result.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from devstack.jobrouter.powerfx import (
    FxValue,
    PowerFxError,
    PowerFxEvaluationError,
    PowerFxTypeError,
    PowerFxUnsupportedError,
    compile_expression,
)
from devstack.jobrouter.powerfx.clr_numbers import to_clr_decimal

_FOLDER = os.environ.get("POWERFX_TEST_CASES")
# Configurations this evaluator does not follow, or features it does not have.
_OTHER_SETUPS = re.compile(
    r"(?<!disable:)NumberIsFloat|disable:PowerFxV1CompatibilityRules|TextFirst|AllowSideEffects|"
    r"EnableExpressionChaining|DVDecimal"
)
# Float results whose last binary digit differs between .NET's and C's pow/log (docs/powerfx.md).
_KNOWN_DIFFERENCES = {("Power.txt", "Power(-456,9)"), ("mathfuncs.txt", "Ln(1e-10)")}


def _cases(folder: Path) -> list[tuple[str, str, str]]:
    cases: list[tuple[str, str, str]] = []
    for path in sorted(folder.glob("*.txt")):
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        setups = " ".join(line for line in lines if line.upper().startswith("#SETUP:"))
        if _OTHER_SETUPS.search(setups):
            continue
        index = 0
        while index < len(lines):
            if not lines[index].startswith(">>"):
                index += 1
                continue
            expression = lines[index][2:].strip()
            index += 1
            while index < len(lines) and lines[index][:1] in (" ", "\t") and lines[index].strip():
                expression += "\n" + lines[index]
                index += 1
            while index < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("//")):
                index += 1
            if index < len(lines):
                cases.append((path.name, expression, lines[index].strip()))
            index += 1
    return cases


def _params() -> list[object]:
    if not _FOLDER:
        return [pytest.param("", "", "", marks=pytest.mark.skip(reason="POWERFX_TEST_CASES is not set"))]
    params: list[object] = []
    for number, (file, expression, expected) in enumerate(_cases(Path(_FOLDER))):
        marks = [pytest.mark.xfail(strict=True)] if (file, expression) in _KNOWN_DIFFERENCES else []
        params.append(pytest.param(file, expression, expected, marks=marks, id=f"{file}-{number}"))
    return params


def _expected(text: str) -> tuple[str, object] | None:
    """The expected outcome of a case: ("value", v), ("error", kind), ("compile", None) or None (skip)."""
    literal_values: dict[str, FxValue] = {"true": True, "false": False, "Blank()": None}
    if text in literal_values:
        return ("value", literal_values[text])
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return ("value", text[1:-1].replace('""', '"'))
    error = re.fullmatch(r"Error\(\{Kind:ErrorKind\.(\w+)\}\)", text)
    if error:
        return ("error", error.group(1))
    if text.startswith("Errors:"):
        return ("compile", None)
    if re.fullmatch(r"-?[0-9]*\.?[0-9]+(E[+-][0-9]+)?", text):
        return ("value", Decimal(text))
    return None


def _same_number(actual: Decimal | float, expected: Decimal) -> bool:
    if isinstance(actual, Decimal):
        return actual == (to_clr_decimal(expected) or expected)
    if Decimal(repr(actual)) == expected:
        return True
    exponent = expected.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else 0
    # Microsoft's files print some Float results rounded to a few places.
    return places >= 0 and abs(actual - float(expected)) <= 0.5 * 10.0**-places + 1e-15


@pytest.mark.parametrize(("file", "expression", "expected_text"), _params())
def test_microsoft_expression_case(file: str, expression: str, expected_text: str) -> None:
    expected = _expected(expected_text)
    if expected is None:
        pytest.skip("expected value is not a single Decimal, Text, Boolean, Blank or error")
    try:
        actual: tuple[str, object] = ("value", compile_expression(expression).evaluate(job_labels={}))
    except PowerFxUnsupportedError:
        pytest.skip("uses a construct outside the supported subset")
    except PowerFxTypeError as error:
        if "unknown or unsupported function" in error.message or "isn't recognized" in error.message:
            pytest.skip("uses a name outside the supported subset")
        actual = ("compile", None)
    except PowerFxEvaluationError as error:
        actual = ("error", error.kind)
    except PowerFxError:
        actual = ("compile", None)

    if expected[0] == "value" and actual[0] == "value" and isinstance(expected[1], Decimal):
        assert isinstance(actual[1], (Decimal, float)), (file, expression, actual)
        assert _same_number(actual[1], expected[1]), (file, expression, actual)
    else:
        assert actual == expected, (file, expression, actual)
