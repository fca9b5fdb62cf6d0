"""Exception policies via the real SDK: queueLength and waitTime triggers; cancel and (manual) reclassify."""

from __future__ import annotations

import time

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    CancelExceptionAction,
    ClassificationPolicy,
    ExceptionAction,
    ExceptionPolicy,
    ExceptionRule,
    ExceptionTrigger,
    ManualReclassifyExceptionAction,
    QueueLengthExceptionTrigger,
    ReclassifyExceptionAction,
    RouterQueueSelector,
    RouterWorkerSelector,
    StaticQueueSelectorAttachment,
    WaitTimeExceptionTrigger,
)
from azure.core.exceptions import HttpResponseError

from devstack.jobrouter import EmulatorThread
from devstack.polling import wait_until
from tests.emulator.helpers import (
    add_job,
    event_types,
    response_text,
    setup_queue,
    wait_job,
    wait_status,
)


def policy(
    admin: JobRouterAdministrationClient, trigger: ExceptionTrigger, *actions: ExceptionAction
) -> None:
    """Exception policy ``ep`` with one rule ``rule`` on queue ``q`` (no workers: jobs wait)."""
    admin.upsert_exception_policy(
        "ep",
        ExceptionPolicy(exception_rules=[ExceptionRule(id="rule", trigger=trigger, actions=list(actions))]),
    )
    setup_queue(admin, exception_policy_id="ep")


def test_queue_length_trigger_cancels_the_job_that_overflows(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    policy(
        admin,
        QueueLengthExceptionTrigger(threshold=1),
        CancelExceptionAction(disposition_code="QueueFull", note="full"),
    )
    add_job(client, "first")
    wait_status(client, "first", "queued")

    add_job(client, "second")

    second = wait_status(client, "second", "cancelled")
    assert second.disposition_code == "QueueFull"
    assert client.get_job("first").status == "queued"
    assert event_types(emu, subject_contains="job/second")[-2:] == [
        "RouterJobExceptionTriggered",
        "RouterJobCancelled",
    ]
    triggered = next(e for e in emu.events if e.event_type.endswith("RouterJobExceptionTriggered"))
    assert triggered.subject == "job/second/channel/voice/exceptionrule/rule"
    assert (triggered.data["ruleKey"], triggered.data["exceptionRuleId"]) == ("rule", "rule")


def test_wait_time_trigger_manually_reclassifies_to_another_queue(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, queue_id="overflow", policy_id="dp2")
    policy(
        admin,
        WaitTimeExceptionTrigger(threshold_seconds=1),
        ManualReclassifyExceptionAction(
            queue_id="overflow",
            priority=7,
            worker_selectors=[RouterWorkerSelector(key="senior", label_operator="equal", value=True)],
        ),
    )
    add_job(client, "j")
    first = wait_status(client, "j", "queued")

    moved = wait_job(client, "j", lambda job: job.queue_id == "overflow")

    assert (moved.status, moved.priority) == ("queued", 7)
    assert [(s.key, s.value) for s in moved.attached_worker_selectors or []] == [("senior", True)]
    assert moved.enqueued_at is not None
    assert first.enqueued_at is not None
    assert moved.enqueued_at > first.enqueued_at


def test_wait_time_trigger_reclassifies_with_upserted_labels(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, queue_id="escalated", policy_id="dp2", labels={"tier": "escalated"})
    admin.upsert_classification_policy(
        "escalate",
        ClassificationPolicy(
            queue_selector_attachments=[
                StaticQueueSelectorAttachment(
                    queue_selector=RouterQueueSelector(key="tier", label_operator="equal", value="escalated")
                )
            ]
        ),
    )
    policy(
        admin,
        WaitTimeExceptionTrigger(threshold_seconds=1),
        ReclassifyExceptionAction(classification_policy_id="escalate", labels_to_upsert={"escalated": True}),
    )
    add_job(client, "j", labels={"lang": "en"})
    wait_status(client, "j", "queued")

    moved = wait_job(client, "j", lambda job: job.queue_id == "escalated" and job.status == "queued")

    assert moved.labels == {"lang": "en", "escalated": True}
    assert moved.classification_policy_id == "escalate"


def test_a_rule_fires_once_per_job(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    policy(
        admin, WaitTimeExceptionTrigger(threshold_seconds=0.5), ManualReclassifyExceptionAction(priority=3)
    )
    add_job(client, "j")
    wait_until(lambda: client.get_job("j").priority == 3, timeout=5)
    wait_until(lambda: "RouterJobExceptionTriggered" in event_types(emu, subject_contains="job/j"))
    time.sleep(1.0)
    assert event_types(emu, subject_contains="job/j").count("RouterJobExceptionTriggered") == 1


def test_an_action_referring_to_a_missing_queue_is_a_bad_request(
    admin: JobRouterAdministrationClient,
) -> None:

    rule = ExceptionRule(
        id="rule",
        trigger=QueueLengthExceptionTrigger(threshold=1),
        actions=[ManualReclassifyExceptionAction(queue_id="gone")],
    )
    with pytest.raises(HttpResponseError) as raised:
        admin.upsert_exception_policy("ep", ExceptionPolicy(exception_rules=[rule]))
    assert raised.value.status_code == 400
    assert "exceptionRules[0].actions[0].queueId" in response_text(raised.value)
