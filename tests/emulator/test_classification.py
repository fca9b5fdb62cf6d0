"""Classification policies through the real SDK: queue selection, priority, worker selector attachments."""

from __future__ import annotations

from typing import Any

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    ClassificationPolicy,
    ConditionalQueueSelectorAttachment,
    ConditionalWorkerSelectorAttachment,
    DirectMapRouterRule,
    PassThroughQueueSelectorAttachment,
    PassThroughWorkerSelectorAttachment,
    QueueWeightedAllocation,
    RouterJob,
    RouterQueueSelector,
    RouterWorkerSelector,
    RuleEngineWorkerSelectorAttachment,
    StaticQueueSelectorAttachment,
    StaticRouterRule,
    StaticWorkerSelectorAttachment,
    WeightedAllocationQueueSelectorAttachment,
)

from devstack.jobrouter import EmulatorThread
from tests.emulator.helpers import add_worker, event_types, setup_queue, wait_offer, wait_status


@pytest.fixture
def queues(admin: JobRouterAdministrationClient) -> JobRouterAdministrationClient:
    """Queues ``en`` (labels lang=en) and ``fallback``, both on one policy."""
    setup_queue(admin, queue_id="en", labels={"lang": "en"})
    setup_queue(admin, queue_id="fallback")
    return admin


def classify(client: JobRouterClient, job_id: str = "j", **labels: Any) -> Any:
    client.upsert_job(job_id, RouterJob(channel_id="voice", classification_policy_id="cp", labels=labels))
    return wait_status(client, job_id, "queued")


def test_a_static_queue_selector_picks_the_matching_queue(
    emu: EmulatorThread, queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="fallback",
            queue_selector_attachments=[
                StaticQueueSelectorAttachment(
                    queue_selector=RouterQueueSelector(key="lang", label_operator="equal", value="en")
                )
            ],
            prioritization_rule=StaticRouterRule(value=10),
            worker_selector_attachments=[
                StaticWorkerSelectorAttachment(
                    worker_selector=RouterWorkerSelector(key="skill", label_operator="equal", value="billing")
                )
            ],
        ),
    )
    created = client.upsert_job("j", RouterJob(channel_id="voice", classification_policy_id="cp"))
    assert created.status == "pendingClassification"

    job = wait_status(client, "j", "queued")

    assert (job.queue_id, job.priority) == ("en", 10)
    assert [(s.key, s.value, s.status) for s in job.attached_worker_selectors or []] == [
        ("skill", "billing", "active")
    ]
    assert event_types(emu, subject_contains="job/j") == [
        "RouterJobReceived",
        "RouterJobClassified",
        "RouterJobQueued",
    ]
    classified = next(e for e in emu.events if e.event_type.endswith("RouterJobClassified"))
    assert classified.subject == "job/j/channel/voice/queue/en"
    assert classified.data["queueDetails"] == {"id": "en", "labels": {"lang": "en", "Id": "en"}}


def test_no_matching_queue_falls_back(queues: JobRouterAdministrationClient, client: JobRouterClient) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="fallback",
            queue_selector_attachments=[
                StaticQueueSelectorAttachment(
                    queue_selector=RouterQueueSelector(key="lang", label_operator="equal", value="de")
                )
            ],
        ),
    )
    assert classify(client).queue_id == "fallback"


def test_pass_through_uses_the_jobs_label_value(
    queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="fallback",
            queue_selector_attachments=[
                PassThroughQueueSelectorAttachment(key="lang", label_operator="equal")
            ],
            worker_selector_attachments=[
                PassThroughWorkerSelectorAttachment(key="lang", label_operator="equal")
            ],
        ),
    )
    job = classify(client, lang="en")
    assert job.queue_id == "en"
    assert [(s.key, s.value) for s in job.attached_worker_selectors] == [("lang", "en")]


@pytest.mark.parametrize(
    ("condition", "expected"), [(True, "en"), (False, "fallback")], ids=["true", "false"]
)
def test_conditional_attachments_apply_only_when_the_condition_holds(
    queues: JobRouterAdministrationClient, client: JobRouterClient, condition: bool, expected: str
) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="fallback",
            queue_selector_attachments=[
                ConditionalQueueSelectorAttachment(
                    condition=StaticRouterRule(value=condition),
                    queue_selectors=[RouterQueueSelector(key="lang", label_operator="equal", value="en")],
                )
            ],
            worker_selector_attachments=[
                ConditionalWorkerSelectorAttachment(
                    condition=StaticRouterRule(value=condition),
                    worker_selectors=[
                        RouterWorkerSelector(key="tier", label_operator="greaterThan", value=1)
                    ],
                )
            ],
        ),
    )
    job = classify(client)
    assert job.queue_id == expected
    assert len(job.attached_worker_selectors) == (1 if condition else 0)


def test_a_direct_map_rule_engine_attaches_every_job_label(
    queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="fallback",
            worker_selector_attachments=[RuleEngineWorkerSelectorAttachment(rule=DirectMapRouterRule())],
        ),
    )
    job = classify(client, lang="en", tier=2)
    assert sorted((s.key, s.label_operator, s.value) for s in job.attached_worker_selectors) == [
        ("lang", "equal", "en"),
        ("tier", "equal", 2),
    ]


def test_weighted_allocation_picks_one_of_the_allocations(
    queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="fallback",
            queue_selector_attachments=[
                WeightedAllocationQueueSelectorAttachment(
                    allocations=[
                        QueueWeightedAllocation(
                            weight=1.0,
                            queue_selectors=[
                                RouterQueueSelector(key="Id", label_operator="equal", value="en")
                            ],
                        )
                    ]
                )
            ],
        ),
    )
    assert classify(client).queue_id == "en"


def test_classified_jobs_match_workers_through_attached_selectors(
    queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="en",
            worker_selector_attachments=[
                StaticWorkerSelectorAttachment(
                    worker_selector=RouterWorkerSelector(key="skill", label_operator="equal", value="billing")
                )
            ],
        ),
    )
    add_worker(client, "sales", queues=["en"], labels={"skill": "sales"})
    add_worker(client, "billing", queues=["en"], labels={"skill": "billing"})
    classify(client)
    wait_offer(client, "billing", "j")
    assert client.get_worker("sales").offers == []


def test_updating_a_classified_job_classifies_it_again(
    queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id="fallback",
            queue_selector_attachments=[
                PassThroughQueueSelectorAttachment(key="lang", label_operator="equal")
            ],
        ),
    )
    first = classify(client, lang="de")
    assert first.queue_id == "fallback"

    updated = client.upsert_job("j", {"labels": {"lang": "en"}})

    assert updated.status == "pendingClassification"
    assert updated.queue_id == "fallback"  # kept until reclassification finishes
    assert wait_status(client, "j", "queued").queue_id == "en"
    assert updated.enqueued_at == first.enqueued_at


def test_reclassify_runs_the_policy_again(
    queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    queues.upsert_classification_policy("cp", ClassificationPolicy(fallback_queue_id="fallback"))
    classify(client)
    queues.upsert_classification_policy("cp", {"fallbackQueueId": "en"})
    client.reclassify_job("j")
    assert wait_status(client, "j", "queued").queue_id == "en"


def test_classification_fails_when_no_queue_can_be_chosen(
    emu: EmulatorThread, queues: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    queues.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            queue_selector_attachments=[
                StaticQueueSelectorAttachment(
                    queue_selector=RouterQueueSelector(key="lang", label_operator="equal", value="de")
                )
            ]
        ),
    )
    client.upsert_job("j", RouterJob(channel_id="voice", classification_policy_id="cp"))
    wait_status(client, "j", "classificationFailed")
    failed = next(e for e in emu.events if e.event_type.endswith("RouterJobClassificationFailed"))
    assert failed.subject == "job/j/channel/voice/classificationpolicy/cp"
    assert failed.data["errors"][0]["code"] == "QueueSelectionFailed"
