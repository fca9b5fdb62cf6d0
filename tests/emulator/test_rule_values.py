"""Pure rules under classification and scoring: what each rule position accepts from a rule's output, and
what a scoring rule is sent."""

from __future__ import annotations

import random
from typing import Any

import pytest

from devstack.jobrouter.classification import ClassificationFailure, classify, remote_rules
from devstack.jobrouter.rule_values import RuleFailure, as_condition, as_priority, as_score, as_selectors
from devstack.jobrouter.scoring_rules import batch_scores, batches, expression_score, job_inputs

PRIORITY_ROWS = [
    pytest.param(10, 10, id="integer"),
    pytest.param(3.0, 3, id="whole-float"),
    pytest.param("7", 7, id="numeric-text"),
    pytest.param(-100, -100, id="lowest"),
    pytest.param(100, 100, id="highest"),
]


@pytest.mark.parametrize(("output", "priority"), PRIORITY_ROWS)
def test_a_priority_is_a_whole_number_in_the_job_priority_range(output: Any, priority: int) -> None:
    assert as_priority(output, "prioritizationRule") == priority


@pytest.mark.parametrize(
    "output",
    [1.5, "high", None, True, 101, -101, [1], "NaN", "Infinity"],
    ids=["fraction", "text", "blank", "boolean", "above", "below", "list", "nan-text", "infinity-text"],
)
def test_anything_else_is_not_a_priority(output: Any) -> None:
    with pytest.raises(RuleFailure) as raised:
        as_priority(output, "prioritizationRule")
    assert raised.value.target == "prioritizationRule"
    assert raised.value.code == "InvalidPriority"


@pytest.mark.parametrize(
    ("output", "expected"),
    [(True, True), (False, False), (None, False), ("TRUE", True), (" false ", False)],
    ids=["true", "false", "blank-is-false", "text-any-case", "text-trimmed"],
)
def test_a_condition_is_a_boolean_or_its_text(output: Any, expected: bool) -> None:
    assert as_condition(output, "c") is expected


@pytest.mark.parametrize("output", [1, "yes", [], {}], ids=["number", "other-text", "list", "object"])
def test_anything_else_is_not_a_condition(output: Any) -> None:
    with pytest.raises(RuleFailure, match="must be true or false"):
        as_condition(output, "c")


def test_selectors_are_a_list_of_objects_and_whole_floats_become_integers() -> None:
    selectors = as_selectors([{"key": "k", "labelOperator": "equal", "value": 2.0}], "r")
    assert selectors == [{"key": "k", "labelOperator": "equal", "value": 2}]
    with pytest.raises(RuleFailure, match="list of label selectors"):
        as_selectors({"key": "k"}, "r")


@pytest.mark.parametrize(
    ("output", "score"), [(2, 2.0), (0.25, 0.25), ("3.5", 3.5)], ids=["int", "float", "text"]
)
def test_a_score_is_a_number(output: Any, score: float) -> None:
    assert as_score(output, "mode.scoringRule") == score


def test_a_batch_answer_must_have_one_score_per_worker_sent() -> None:
    assert batch_scores([1, "2", 3.5], 3) == [1.0, 2.0, 3.5]
    with pytest.raises(RuleFailure, match="list of 3 scores"):
        batch_scores([1, 2], 3)
    with pytest.raises(RuleFailure, match="a score must be a number"):
        batch_scores([1, None, 3], 3)


def test_batches_keep_the_order_and_the_size() -> None:
    assert batches(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]


JOB = {
    "labels": {"Tier": "gold"},
    "requestedWorkerSelectors": [{"key": "en", "labelOperator": "equal", "value": True, "status": "active"}],
    "attachedWorkerSelectors": [
        {"key": "old", "labelOperator": "equal", "value": 1, "status": "expired"},
        {
            "key": "skill",
            "labelOperator": "greaterThan",
            "value": 5,
            "expiresAfterSeconds": 30,
            "status": "active",
        },
    ],
}


def test_a_scoring_payload_sends_the_job_labels_and_its_active_selectors_by_default() -> None:
    assert job_inputs(JOB, {}) == {
        "job": {"Tier": "gold"},
        "selectors": [
            {"key": "en", "labelOperator": "equal", "value": True, "expiresAfterSeconds": None},
            {"key": "skill", "labelOperator": "greaterThan", "value": 5, "expiresAfterSeconds": 30},
        ],
    }
    assert job_inputs(JOB, {"scoringParameters": ["jobLabels"]}) == {"job": {"Tier": "gold"}}


def test_an_expression_score_sees_the_worker_and_the_job_it_is_sent() -> None:
    rule = {"kind": "expression", "expression": 'If(job.Tier = "gold" && worker.Senior, 10, 1)'}
    assert expression_score(rule, {"job": {"Tier": "gold"}}, {"Senior": True}) == 10.0
    assert expression_score(rule, {}, {"Senior": True}) == 1.0  # no jobLabels: job.Tier is Blank


POLICY: dict[str, Any] = {
    "fallbackQueueId": "fallback",
    "queueSelectorAttachments": [
        {
            "kind": "conditional",
            "condition": {"kind": "function", "functionUri": "https://f/c"},
            "queueSelectors": [],
        },
        {"kind": "ruleEngine", "rule": {"kind": "webhook", "webhookUri": "https://h/q"}},
    ],
    "prioritizationRule": {"kind": "expression", "expression": "If(job.VIP, 10, 1)"},
    "workerSelectorAttachments": [
        {"kind": "ruleEngine", "rule": {"kind": "function", "functionUri": "https://f/w"}}
    ],
}


def test_remote_rules_are_listed_with_their_positions_in_policy_order() -> None:
    assert [target for target, _ in remote_rules(POLICY)] == [
        "queueSelectorAttachments[0].condition",
        "queueSelectorAttachments[1].rule",
        "workerSelectorAttachments[0].rule",
    ]


def test_classification_uses_the_remote_answers_by_position_and_evaluates_expressions_itself() -> None:
    queues = {"fallback": {"labels": {"Id": "fallback"}}, "vip": {"labels": {"Id": "vip"}}}
    answers = {
        "queueSelectorAttachments[0].condition": False,
        "queueSelectorAttachments[1].rule": [{"key": "Id", "labelOperator": "Equal", "value": "vip"}],
        "workerSelectorAttachments[0].rule": [{"key": "lang", "labelOperator": "equal", "value": "en"}],
    }
    result = classify({"labels": {"VIP": True}}, POLICY, queues, random.Random(1), remote_outputs=answers)
    assert (result.queue_id, result.priority) == ("vip", 10)
    assert [(s["key"], s["value"], s["status"]) for s in result.attached_worker_selectors] == [
        ("lang", "en", "active")
    ]


def test_a_rule_made_queue_selector_with_an_unknown_operator_fails_naming_the_attachment() -> None:
    answers = {
        "queueSelectorAttachments[0].condition": True,
        "queueSelectorAttachments[1].rule": [{"key": "Id", "labelOperator": "like", "value": "vip"}],
        "workerSelectorAttachments[0].rule": [],
    }
    with pytest.raises(ClassificationFailure) as raised:
        classify({"labels": {}}, POLICY, {"vip": {}}, random.Random(1), remote_outputs=answers)
    assert raised.value.target == "queueSelectorAttachments[1]"
    assert raised.value.as_error()["code"] == "InvalidQueueSelector"
