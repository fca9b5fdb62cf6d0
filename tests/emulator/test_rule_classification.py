"""Classification with Power Fx expression rules, function rules and webhook rules, through the real SDK.

The expressions are the ones Microsoft's "Classifying a job" how-to uses
(learn.microsoft.com/azure/communication-services/how-tos/router-sdk/job-classification): the queue
``XBOX_NA_QUEUE`` when ``job.Region = "NA"``, priority ``If(job.Hardware_VIP = true, 10, 1)``. The function
is a loopback stand-in of Microsoft's "GetPriority" sample
(learn.microsoft.com/azure/communication-services/how-tos/router-sdk/azure-function).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    ClassificationPolicy,
    ConditionalQueueSelectorAttachment,
    ExpressionRouterRule,
    FunctionRouterRule,
    FunctionRouterRuleCredential,
    OAuth2WebhookClientCredential,
    RouterJob,
    RouterQueueSelector,
    RuleEngineWorkerSelectorAttachment,
    WebhookRouterRule,
)

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from devstack.polling import wait_until
from tests.emulator.helpers import (
    admin_client,
    event_types,
    router_client,
    setup_queue,
    wait_status,
)
from tests.emulator.rule_endpoints import FUNCTION_KEY, RuleEndpointsThread

NA_QUEUE_POLICY = ClassificationPolicy(
    name="Select XBOX Queue and set priority to 1 or 10",
    queue_selector_attachments=[
        ConditionalQueueSelectorAttachment(
            condition=ExpressionRouterRule(expression='job.Region = "NA"'),
            queue_selectors=[RouterQueueSelector(key="Id", label_operator="equal", value="XBOX_NA_QUEUE")],
        )
    ],
    fallback_queue_id="XBOX_DEFAULT_QUEUE",
    prioritization_rule=ExpressionRouterRule(expression="If(job.Hardware_VIP = true, 10, 1)"),
)


@pytest.fixture(scope="module")
def endpoints() -> Iterator[RuleEndpointsThread]:
    with RuleEndpointsThread(slow_seconds=3.0) as running:
        yield running


@pytest.fixture
def xbox_queues(admin: JobRouterAdministrationClient) -> JobRouterAdministrationClient:
    setup_queue(admin, queue_id="XBOX_NA_QUEUE")
    setup_queue(admin, queue_id="XBOX_DEFAULT_QUEUE")
    return admin


def submit(client: JobRouterClient, job_id: str, labels: dict[str, Any], policy: str = "cp") -> None:
    client.upsert_job(job_id, RouterJob(channel_id="voice", classification_policy_id=policy, labels=labels))


def classification_errors(emu: EmulatorThread, job_id: str) -> list[dict[str, Any]]:
    failed = [
        e
        for e in emu.events
        if e.event_type.endswith("RouterJobClassificationFailed") and f"job/{job_id}/" in e.subject
    ]
    assert len(failed) == 1, [e.event_type for e in emu.events]
    errors: list[dict[str, Any]] = failed[0].data["errors"]
    return errors


@pytest.mark.parametrize(
    ("labels", "queue", "priority"),
    [
        ({"Region": "NA", "Hardware_VIP": True}, "XBOX_NA_QUEUE", 10),
        ({"Region": "NA"}, "XBOX_NA_QUEUE", 1),
        ({"Region": "EU", "Hardware_VIP": True}, "XBOX_DEFAULT_QUEUE", 10),
        ({}, "XBOX_DEFAULT_QUEUE", 1),
    ],
    ids=["na-vip", "na", "eu-vip", "no-labels"],
)
def test_power_fx_rules_choose_the_queue_and_the_priority(
    xbox_queues: JobRouterAdministrationClient,
    client: JobRouterClient,
    labels: dict[str, Any],
    queue: str,
    priority: int,
) -> None:
    xbox_queues.upsert_classification_policy("cp", NA_QUEUE_POLICY)
    submit(client, "j", labels)
    job = wait_status(client, "j", "queued")
    assert (job.queue_id, job.priority) == (queue, priority)


@pytest.mark.parametrize(
    ("expression", "construct"),
    [
        ("DateDiff(job.Opened, job.Closed)", "function 'DateDiff'"),
        ("10 / job.Divisor", "operator '/'"),
        ("If(job.Tier = 5, 10, 1)", "job.Tier"),
        ("If(job.Escalated, 10", "syntax"),
        ("If(job.Escalated, 10)", "a priority must be a whole number"),
    ],
    ids=["unsupported-function", "division-by-zero", "type-of-a-label", "syntax", "blank-priority"],
)
def test_a_failing_expression_fails_classification_with_an_error_naming_the_construct(
    emu: EmulatorThread,
    xbox_queues: JobRouterAdministrationClient,
    client: JobRouterClient,
    expression: str,
    construct: str,
) -> None:
    xbox_queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="XBOX_DEFAULT_QUEUE",
            prioritization_rule=ExpressionRouterRule(expression=expression),
        ),
    )
    submit(client, "j", {"Divisor": 0, "Tier": "gold", "Escalated": False})
    job = wait_status(client, "j", "classificationFailed")
    assert job.queue_id is None
    [error] = classification_errors(emu, "j")
    assert error["target"] == "prioritizationRule"
    assert construct in error["message"]
    assert event_types(emu, subject_contains="job/j") == [
        "RouterJobReceived",
        "RouterJobClassificationFailed",
    ]


def test_a_rule_engine_expression_cannot_yield_selectors_and_says_so(
    emu: EmulatorThread, xbox_queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    xbox_queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="XBOX_DEFAULT_QUEUE",
            worker_selector_attachments=[
                RuleEngineWorkerSelectorAttachment(rule=ExpressionRouterRule(expression='"skill"'))
            ],
        ),
    )
    submit(client, "j", {})
    wait_status(client, "j", "classificationFailed")
    [error] = classification_errors(emu, "j")
    assert error["target"] == "workerSelectorAttachments[0].rule"
    assert "list of label selectors" in error["message"]


def test_a_reclassified_job_runs_the_expression_again_on_its_new_labels(
    xbox_queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    xbox_queues.upsert_classification_policy("cp", NA_QUEUE_POLICY)
    submit(client, "j", {"Region": "EU"})
    assert wait_status(client, "j", "queued").queue_id == "XBOX_DEFAULT_QUEUE"
    client.upsert_job("j", {"labels": {"Region": "NA", "Hardware_VIP": True}})
    job = wait_status(client, "j", "queued")
    assert (job.queue_id, job.priority) == ("XBOX_NA_QUEUE", 10)


# ----------------------------------------------------------------------------- function and webhook rules


def function_rule(endpoints: RuleEndpointsThread, path: str = "/api/priority") -> FunctionRouterRule:
    return FunctionRouterRule(
        function_uri=endpoints.url(path), credential=FunctionRouterRuleCredential(function_key=FUNCTION_KEY)
    )


def test_a_function_prioritization_rule_is_called_with_the_job_labels_and_its_answer_used(
    endpoints: RuleEndpointsThread, xbox_queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    xbox_queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="XBOX_DEFAULT_QUEUE", prioritization_rule=function_rule(endpoints)
        ),
    )
    submit(client, "urgent", {"Escalated": True, "Region": "NA"})
    submit(client, "calm", {"Escalated": False})
    assert wait_status(client, "urgent", "queued").priority == 10
    assert wait_status(client, "calm", "queued").priority == 1
    bodies = [c.json() for c in endpoints.calls_to("/api/priority")]
    assert {"job": {"Escalated": True, "Region": "NA"}} in bodies
    assert {"job": {"Escalated": False}} in bodies


def test_a_function_condition_and_rule_engine_rule_pick_queue_and_worker_selectors(
    endpoints: RuleEndpointsThread, xbox_queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    endpoints.answers["yes"] = True
    endpoints.answers["selectors"] = [{"key": "skill", "labelOperator": "equal", "value": "xbox"}]
    xbox_queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="XBOX_DEFAULT_QUEUE",
            queue_selector_attachments=[
                ConditionalQueueSelectorAttachment(
                    condition=function_rule(endpoints, "/api/answer/yes"),
                    queue_selectors=[
                        RouterQueueSelector(key="Id", label_operator="equal", value="XBOX_NA_QUEUE")
                    ],
                )
            ],
            worker_selector_attachments=[
                RuleEngineWorkerSelectorAttachment(rule=function_rule(endpoints, "/api/answer/selectors"))
            ],
        ),
    )
    submit(client, "j", {})
    job = wait_status(client, "j", "queued")
    assert job.queue_id == "XBOX_NA_QUEUE"
    assert [(s.key, s.label_operator, s.value, s.status) for s in job.attached_worker_selectors or []] == [
        ("skill", "equal", "xbox", "active")
    ]


def test_a_webhook_rule_gets_a_token_first_then_calls_the_webhook_with_it(
    endpoints: RuleEndpointsThread, xbox_queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    rule = WebhookRouterRule(
        authorization_server_uri=endpoints.url("/oauth/token"),
        client_credential=OAuth2WebhookClientCredential(client_id="router", client_secret="s3cret"),
        webhook_uri=endpoints.url("/hook/priority"),
    )
    xbox_queues.upsert_classification_policy(
        "cp", ClassificationPolicy(fallback_queue_id="XBOX_DEFAULT_QUEUE", prioritization_rule=rule)
    )
    submit(client, "j", {"Escalated": True})
    assert wait_status(client, "j", "queued").priority == 10
    paths = [c.path for c in endpoints.calls if c.path in ("/oauth/token", "/hook/priority")]
    assert paths[-2:] == ["/oauth/token", "/hook/priority"]
    assert endpoints.calls_to("/hook/priority")[-1].headers["authorization"].startswith("Bearer token-")


@pytest.mark.parametrize(
    "case",
    [
        ("/fail", "FunctionRuleFailed", "HTTP 500"),
        ("/not-json", "FunctionRuleFailed", "not JSON"),
        ("/api/answer/text", "InvalidPriority", "a priority must be a whole number"),
    ],
    ids=["server-error", "not-json", "not-a-number"],
)
def test_a_failing_function_rule_fails_classification_naming_the_rule(
    emu: EmulatorThread,
    endpoints: RuleEndpointsThread,
    xbox_queues: JobRouterAdministrationClient,
    client: JobRouterClient,
    case: tuple[str, str, str],
) -> None:
    path, code, message = case
    endpoints.answers["text"] = "urgent"
    xbox_queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="XBOX_DEFAULT_QUEUE", prioritization_rule=function_rule(endpoints, path)
        ),
    )
    submit(client, "j", {})
    wait_status(client, "j", "classificationFailed")
    [error] = classification_errors(emu, "j")
    assert (error["code"], error["target"]) == (code, "prioritizationRule")
    assert message in error["message"]
    assert FUNCTION_KEY not in error["message"]


def test_a_function_that_does_not_answer_in_time_fails_classification_instead_of_hanging(
    endpoints: RuleEndpointsThread,
) -> None:
    with (
        EmulatorThread(EmulatorConfig(rule_timeout_seconds=0.3)) as emu,
        admin_client(emu) as admin,
        router_client(emu) as client,
    ):
        setup_queue(admin, queue_id="XBOX_DEFAULT_QUEUE")
        admin.upsert_classification_policy(
            "cp",
            ClassificationPolicy(
                fallback_queue_id="XBOX_DEFAULT_QUEUE", prioritization_rule=function_rule(endpoints, "/slow")
            ),
        )
        submit(client, "j", {})
        assert client.get_job("j").status == "pendingClassification"
        # Meanwhile the emulator keeps answering: the call does not block its loop.
        assert admin.get_queue("XBOX_DEFAULT_QUEUE").id == "XBOX_DEFAULT_QUEUE"
        wait_status(client, "j", "classificationFailed", timeout=3.0)
        [error] = classification_errors(emu, "j")
        assert "did not answer within 0.3 s" in error["message"]


def test_an_answer_for_a_job_that_was_cancelled_meanwhile_is_ignored(
    emu: EmulatorThread,
    endpoints: RuleEndpointsThread,
    xbox_queues: JobRouterAdministrationClient,
    client: JobRouterClient,
) -> None:
    rule = function_rule(endpoints, "/slow?seconds=0.3")
    xbox_queues.upsert_classification_policy(
        "cp", ClassificationPolicy(fallback_queue_id="XBOX_DEFAULT_QUEUE", prioritization_rule=rule)
    )
    answered_before = len(endpoints.calls_to("/slow"))
    submit(client, "j", {})
    client.cancel_job("j")
    wait_until(lambda: len(endpoints.calls_to("/slow")) > answered_before, what="the slow function to answer")
    emu.call(lambda: None)  # the answer is handled on the emulator's loop before this runs
    assert client.get_job("j").status == "cancelled"
    assert "RouterJobClassified" not in event_types(emu, subject_contains="job/j")


def test_an_answer_for_labels_the_job_no_longer_has_is_ignored(endpoints: RuleEndpointsThread) -> None:
    # Processing delay 1 s: the call is made 1 s after the job is created and answers 0.5 s later. The
    # labels change at 1.2 s, so the stale answer (1.5 s) comes before the job's new classification (2.2 s).
    with (
        EmulatorThread(EmulatorConfig(processing_delay=1.0)) as emu,
        admin_client(emu) as admin,
        router_client(emu) as client,
    ):
        setup_queue(admin, queue_id="XBOX_DEFAULT_QUEUE")
        rule = function_rule(endpoints, "/api/priority?delay=0.5")
        admin.upsert_classification_policy(
            "cp", ClassificationPolicy(fallback_queue_id="XBOX_DEFAULT_QUEUE", prioritization_rule=rule)
        )
        submit(client, "j", {"Escalated": False})
        time.sleep(1.2)
        client.upsert_job("j", {"labels": {"Escalated": True}})
        assert wait_status(client, "j", "queued", timeout=5.0).priority == 10
