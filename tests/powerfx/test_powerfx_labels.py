"""How job and worker labels reach an expression, and the JSON value a rule yields.

Job Router binds ``job`` (the job's labels) in classification and prioritization rules and also
``worker`` (the worker's labels) in best-worker scoring rules. A label's Power Fx type is that of
its JSON value; a label the job does not have is Blank (docs/powerfx.md, "Labels").
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from devstack.jobrouter.powerfx import (
    FxValue,
    JsonValue,
    PowerFxEvaluationError,
    PowerFxTypeError,
    PowerFxUnsupportedError,
    compile_expression,
    evaluate,
    to_json_value,
)

# Sources
JOB_CLASSIFICATION = (
    "https://learn.microsoft.com/azure/communication-services/how-tos/router-sdk/job-classification"
)
ROUTER_RULES = "https://learn.microsoft.com/azure/communication-services/concepts/router/router-rule-concepts"

LABEL_ROWS = [
    # JOB_CLASSIFICATION: a job without the Hardware_VIP label is classified with priority 1, so an
    # absent label is Blank rather than an error.
    pytest.param("IsBlank(job.Missing)", {}, True, id="absent-label-is-blank"),
    pytest.param("IsBlank(job.Nothing)", {"Nothing": None}, True, id="null-label-is-blank"),
    pytest.param("job.Count + 1", {"Count": 41}, Decimal(42), id="integer-label-is-a-decimal"),
    pytest.param("job.Rate + 0.2 = 0.3", {"Rate": 0.1}, True, id="json-float-label-is-its-decimal-text"),
    pytest.param('job.Region & "-1"', {"Region": "NA"}, "NA-1", id="text-label"),
    pytest.param("If(job.VIP, 10, 1)", {"VIP": True}, Decimal(10), id="boolean-label-as-condition"),
    pytest.param("If(job.VIP, 10, 1)", {"VIP": "TRUE"}, Decimal(10), id="text-true-label-as-condition"),
    pytest.param("Value(job.Tier) > 3", {"Tier": "5"}, True, id="text-number-label-through-value"),
    pytest.param("job.Tier * 2", {"Tier": "5"}, Decimal(10), id="text-number-label-in-arithmetic"),
    pytest.param("job.'Hardware VIP' = true", {"Hardware VIP": True}, True, id="label-name-with-space"),
]


@pytest.mark.parametrize(("expression", "labels", "expected"), LABEL_ROWS)
def test_job_labels_in_expressions(expression: str, labels: dict[str, object], expected: FxValue) -> None:
    result = evaluate(expression, job_labels=labels)

    assert result == expected
    assert type(result) is type(expected)


def test_label_type_decides_whether_a_comparison_is_valid() -> None:
    rule = compile_expression("job.Tier = 5")

    assert rule.evaluate(job_labels={"Tier": 5}) is True
    with pytest.raises(PowerFxTypeError, match="These types can't be compared: Text, Decimal"):
        rule.evaluate(job_labels={"Tier": "5"})


def test_one_compiled_expression_serves_labels_of_any_type() -> None:
    rule = compile_expression('job.Code & ""')

    assert rule.evaluate(job_labels={"Code": 7}) == "7"
    assert rule.evaluate(job_labels={"Code": "A7"}) == "A7"
    assert rule.evaluate(job_labels={"Code": False}) == "false"
    assert rule.evaluate(job_labels={}) == ""


def test_worker_labels_are_bound_only_when_given() -> None:
    rule = compile_expression("If(worker.HandleEscalation = true, 100, 1)")

    assert rule.evaluate(job_labels={}, worker_labels={"HandleEscalation": True}) == Decimal(100)
    with pytest.raises(PowerFxTypeError, match="'worker' isn't recognized") as raised:
        rule.evaluate(job_labels={"HandleEscalation": True})
    assert raised.value.construct == "name 'worker'"


def test_scoring_rule_reads_job_and_worker_labels() -> None:
    rule = compile_expression("If(worker.English >= job.English, 1, 0)")

    assert rule.evaluate(job_labels={"English": 7}, worker_labels={"English": 10}) == Decimal(1)
    assert rule.evaluate(job_labels={"English": 7}, worker_labels={"English": 5}) == Decimal(0)


def test_label_references_list_every_label_read() -> None:
    rule = compile_expression("If(worker.Skill >= job.'Min Skill', Len(job.Name), 0)")

    assert rule.label_references == {("worker", "Skill"), ("job", "Min Skill"), ("job", "Name")}


LABEL_ERROR_ROWS = [
    pytest.param("job", PowerFxUnsupportedError, "record value 'job'", id="whole-record"),
    pytest.param("job.Region.Code", PowerFxTypeError, "operator '.'", id="field-of-a-label"),
    pytest.param("Region = 1", PowerFxTypeError, "name 'Region'", id="bare-label-name"),
    pytest.param("(1).Region", PowerFxTypeError, "operator '.'", id="field-of-a-number"),
]


@pytest.mark.parametrize(("expression", "error", "construct"), LABEL_ERROR_ROWS)
def test_invalid_label_references(expression: str, error: type[Exception], construct: str) -> None:
    with pytest.raises(error) as raised:
        compile_expression(expression)

    assert getattr(raised.value, "construct", None) == construct


def test_label_number_beyond_decimal_range_is_a_numeric_error() -> None:
    with pytest.raises(PowerFxEvaluationError, match=r"label job\.Huge") as raised:
        evaluate("job.Huge", job_labels={"Huge": 1e300})

    assert raised.value.kind == "Numeric"


def test_label_that_is_not_a_primitive_is_a_type_error() -> None:
    with pytest.raises(PowerFxTypeError, match=r"label job\.List is a list"):
        evaluate("job.List", job_labels={"List": [1, 2]})


JSON_ROWS = [
    pytest.param(Decimal(10), 10, id="whole-decimal-is-int"),
    pytest.param(Decimal("10.000"), 10, id="decimal-with-trailing-zeros-is-int"),
    pytest.param(Decimal("2.5"), 2.5, id="fractional-decimal-is-float"),
    pytest.param(Decimal(2**96 - 1), 2**96 - 1, id="largest-decimal-stays-exact"),
    pytest.param(8.0, 8, id="whole-float-is-int"),
    pytest.param(0.5, 0.5, id="fractional-float"),
    pytest.param(1e300, 1e300, id="huge-float-stays-float"),
    pytest.param("x", "x", id="text"),
    pytest.param(True, True, id="boolean"),
    pytest.param(None, None, id="blank-is-null"),
]


@pytest.mark.parametrize(("value", "expected"), JSON_ROWS)
def test_to_json_value(value: FxValue, expected: JsonValue) -> None:
    result = to_json_value(value)

    assert result == expected
    assert type(result) is type(expected)


def test_priority_rule_yields_an_int_for_the_job() -> None:
    # ROUTER_RULES: "If(job.Escalated = true, 10, 5)" sets a job's priority, an integer.
    rule = compile_expression("If(job.Escalated = true, 10, 5)")

    assert to_json_value(rule.evaluate(job_labels={"Escalated": True})) == 10
