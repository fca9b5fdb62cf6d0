"""Every Power Fx expression found in Microsoft's Job Router docs and SDK samples evaluates as they say.

Each row cites where the expression comes from and, where the source says what a job or worker gets,
the labels it uses and the outcome it states. Labels are the JSON values the REST API carries.
"""

from __future__ import annotations

import pytest

from devstack.jobrouter.powerfx import JsonValue, compile_expression, to_json_value

# Sources
ROUTER_RULES = "https://learn.microsoft.com/azure/communication-services/concepts/router/router-rule-concepts"
JOB_CLASSIFICATION = (
    "https://learn.microsoft.com/azure/communication-services/how-tos/router-sdk/job-classification"
)
ESCALATE_JOB = "https://learn.microsoft.com/azure/communication-services/how-tos/router-sdk/escalate-job"
NET_SAMPLES = "https://github.com/Azure/azure-sdk-for-net/tree/main/sdk/communication/Azure.Communication.JobRouter/tests/Samples"
JS_SDK = "https://github.com/Azure/azure-sdk-for-js/tree/main/sdk/communication/communication-job-router"
PY_SDK = (
    "https://github.com/Azure/azure-sdk-for-python/tree/main/sdk/communication/azure-communication-jobrouter"
)

CLASSIFICATION_ROWS = [
    # JOB_CLASSIFICATION, "Submit the job": the job has no Hardware_VIP label and gets priority 1.
    pytest.param(
        "If(job.Hardware_VIP = true, 10, 1)",
        {"Region": "NA", "Caller_Id": "7805551212", "Caller_NPA_NXX": "780555", "XBOX_Hardware": 7},
        1,
        id="job-classification-priority-without-vip-label",
    ),
    # JOB_CLASSIFICATION: "the priority is 10 if a label called Hardware_VIP was matched".
    pytest.param(
        "If(job.Hardware_VIP = true, 10, 1)", {"Hardware_VIP": True}, 10, id="job-classification-vip"
    ),
    # JOB_CLASSIFICATION: the conditional queue selector's condition for that same job.
    pytest.param('job.Region = "NA"', {"Region": "NA"}, True, id="job-classification-region-na"),
    pytest.param('job.Region = "NA"', {"Region": "EU"}, False, id="job-classification-region-eu"),
    # ESCALATE_JOB and NET_SAMPLES Sample2_ClassificationWithPriorityRuleAsync.Scenario2:
    # Escalated false -> priority 1, Escalated true -> priority 10.
    pytest.param("If(job.Escalated = true, 10, 1)", {"Escalated": False}, 1, id="escalate-job-not-escalated"),
    pytest.param("If(job.Escalated = true, 10, 1)", {"Escalated": True}, 10, id="escalate-job-escalated"),
    # ESCALATE_JOB: the escalation queue's condition, before and after the exception policy upserts
    # Escalated=true.
    pytest.param("job.Escalated = true", {}, False, id="escalate-job-condition-before-reclassify"),
    pytest.param(
        "job.Escalated = true", {"Escalated": True}, True, id="escalate-job-condition-after-reclassify"
    ),
    # ROUTER_RULES, "Use an expression rule to set the priority of a job" (C# and JavaScript tabs).
    pytest.param("If(job.Escalated = true, 10, 5)", {"Escalated": True}, 10, id="router-rules-escalated"),
    pytest.param("If(job.Escalated = true, 10, 5)", {}, 5, id="router-rules-not-escalated"),
    # ROUTER_RULES (Python and Java tabs) and JOB_CLASSIFICATION "Conditional Attachments".
    pytest.param("If(job.Urgent = true, 10, 5)", {"Urgent": True}, 10, id="router-rules-urgent"),
    pytest.param("If(job.Urgent = true, 10, 5)", {"Urgent": False}, 5, id="router-rules-not-urgent"),
    pytest.param("job.Urgent = true", {"Urgent": True}, True, id="job-classification-urgent-condition"),
    # NET_SAMPLES Sample2_ClassificationWithQueueSelectorAsync.QueueSelection_ByCondition: the O365 job
    # goes to the Office queue, the XBx job to the XBox queue.
    pytest.param(
        'If(job.Product = "O365", true, false)', {"Product": "O365"}, True, id="queue-selector-o365"
    ),
    pytest.param(
        'If(job.Product = "O365", true, false)', {"Product": "XBx"}, False, id="queue-selector-not-o365"
    ),
    pytest.param('If(job.Product = "XBx", true, false)', {"Product": "XBx"}, True, id="queue-selector-xbox"),
    # NET_SAMPLES ClassificationPolicy samples: conditional worker selector for US jobs.
    pytest.param(
        'If(job.Location = "United States", true, false)',
        {"Location": "United States"},
        True,
        id="worker-selector-united-states",
    ),
    # JS_SDK test utilities: English/French conditional queue selectors; text = is case-sensitive.
    pytest.param('If(job.Language = "EN", true, false)', {"Language": "EN"}, True, id="js-sdk-english"),
    pytest.param('If(job.Language = "FR", true, false)', {"Language": "EN"}, False, id="js-sdk-french"),
    pytest.param(
        'If(job.Language = "EN", true, false)', {"Language": "en"}, False, id="js-sdk-english-lowercase"
    ),
    # JS_SDK README, "Create a Classification Policy": priority 2 for the xbox department.
    pytest.param('If(job.department = "xbox", 2, 1)', {"department": "xbox"}, 2, id="js-readme-xbox"),
    pytest.param('If(job.department = "xbox", 2, 1)', {"department": "sales"}, 1, id="js-readme-other"),
    # PY_SDK tests (test_classification_policy): prioritization rule "1", stored by the live service.
    pytest.param("1", {}, 1, id="python-sdk-constant-priority"),
    # Job Router's 2021 preview docs (dynamic-job-classification): an expression choosing a queue id.
    pytest.param(
        'If(job.Region = "NA", "XBOX_NA_QUEUE", "XBOX_DEFAULT_QUEUE")',
        {"Region": "NA"},
        "XBOX_NA_QUEUE",
        id="preview-docs-queue-id",
    ),
]


@pytest.mark.parametrize(("expression", "job_labels", "expected"), CLASSIFICATION_ROWS)
def test_classification_expression_from_microsoft_samples(
    expression: str, job_labels: dict[str, object], expected: JsonValue
) -> None:
    result = to_json_value(compile_expression(expression).evaluate(job_labels=job_labels))

    assert result == expected
    assert type(result) is type(expected)


SCORING_ROWS = [
    # NET_SAMPLES Sample3_AdvancedDistributionAsync.BestWorkerDistribution_Advanced_ExpressionRouterRule:
    # worker 1 (HandleEscalation) scores 100, worker 2 (no such label) scores 1.
    pytest.param(
        "If(worker.HandleEscalation = true, 100, 1)",
        {"HandleEscalation": True, "IT_Support": True},
        100,
        id="best-worker-handles-escalation",
    ),
    pytest.param(
        "If(worker.HandleEscalation = true, 100, 1)", {"IT_Support": True}, 1, id="best-worker-without-label"
    ),
]


@pytest.mark.parametrize(("expression", "worker_labels", "expected"), SCORING_ROWS)
def test_scoring_expression_from_microsoft_samples(
    expression: str, worker_labels: dict[str, object], expected: int
) -> None:
    rule = compile_expression(expression)

    score = to_json_value(rule.evaluate(job_labels={}, worker_labels=worker_labels))

    assert score == expected
