"""The evaluator's error tree: one base class, a subclass per kind of failure, each naming what failed.

The emulator turns any ``PowerFxError`` into ``classificationFailed``; these tests state when each
kind is raised (compile time or evaluation time) and what it carries.
"""

from __future__ import annotations

import pytest

from devstack.jobrouter.powerfx import (
    PowerFxError,
    PowerFxEvaluationError,
    PowerFxSyntaxError,
    PowerFxTypeError,
    PowerFxUnsupportedError,
    compile_expression,
    evaluate,
)


@pytest.mark.parametrize(
    "error",
    [PowerFxSyntaxError, PowerFxUnsupportedError, PowerFxTypeError, PowerFxEvaluationError],
    ids=lambda error: error.__name__,
)
def test_every_failure_is_a_power_fx_error(error: type[Exception]) -> None:
    assert issubclass(error, PowerFxError)


COMPILE_TIME_ROWS = [
    pytest.param("If(", PowerFxSyntaxError, id="syntax"),
    # Power Fx rejects unknown and unsupported functions before running, even in a branch not taken.
    pytest.param("If(true, 1, DateDiff(1, 2))", PowerFxUnsupportedError, id="unsupported-in-untaken-branch"),
    pytest.param("If(true, 1, Nope(2))", PowerFxTypeError, id="unknown-in-untaken-branch"),
    pytest.param('If(true, 1, 2 = "2")', PowerFxTypeError, id="type-error-in-untaken-branch"),
    pytest.param("Left(1)", PowerFxTypeError, id="argument-count"),
]


@pytest.mark.parametrize(("expression", "error"), COMPILE_TIME_ROWS)
def test_label_independent_errors_are_raised_by_compile(expression: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        compile_expression(expression)


def test_label_dependent_type_error_waits_for_the_labels() -> None:
    rule = compile_expression("job.Tier < 3")  # valid while Tier is a number or absent

    assert rule.evaluate(job_labels={}) is True
    with pytest.raises(PowerFxTypeError, match=r"Invalid argument type \(Text\) for operator '<'"):
        rule.evaluate(job_labels={"Tier": "gold"})


def test_runtime_error_in_untaken_branch_is_not_raised() -> None:
    assert evaluate("If(job.Divisor = 0, 0, 100 / job.Divisor)", job_labels={"Divisor": 0}) == 0


def test_evaluation_error_names_its_construct_position_and_expression() -> None:
    expression = "1 + Left(job.Name, -1)"

    with pytest.raises(PowerFxEvaluationError) as raised:
        evaluate(expression, job_labels={"Name": "abc"})

    error = raised.value
    assert (error.kind, error.construct, error.position, error.expression) == (
        "InvalidArgument",
        "function 'Left'",
        4,
        expression,
    )
    assert str(error).endswith("(at character 5)")


def test_unsupported_error_message_names_the_function() -> None:
    with pytest.raises(PowerFxUnsupportedError) as raised:
        compile_expression("DateDiff(job.Created, job.Due)")

    assert raised.value.message == "unsupported function 'DateDiff'"
    assert raised.value.position == 0


def test_syntax_error_points_at_the_offending_character() -> None:
    with pytest.raises(PowerFxSyntaxError) as raised:
        compile_expression("job.Tier > ? 2")

    assert raised.value.position == 11
    assert raised.value.construct == "syntax"
