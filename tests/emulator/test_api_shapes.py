"""Wire shapes, status codes and headers as the live-service recordings show them, via the real SDK."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    BestWorkerMode,
    CancelExceptionAction,
    ClassificationPolicy,
    DistributionPolicy,
    ExceptionPolicy,
    ExceptionRule,
    ManualReclassifyExceptionAction,
    QueueLengthExceptionTrigger,
    ReclassifyExceptionAction,
    RouterQueue,
    StaticRouterRule,
)
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError

from tests.emulator.helpers import Captured, add_job, add_worker, response_text, setup_queue, wait_status


def body(captured: Captured) -> Any:
    return json.loads(captured.last.text())


def test_a_created_resource_answers_201_and_an_update_200(admin: JobRouterAdministrationClient) -> None:
    cap = Captured()
    admin.upsert_distribution_policy("dp", {"offerExpiresAfterSeconds": 10.0}, raw_response_hook=cap)
    admin.upsert_distribution_policy("dp", {"name": "renamed"}, raw_response_hook=cap)
    assert [r.status_code for r in cap.responses] == [201, 200]


def test_distribution_policy_defaults_and_number_echo(admin: JobRouterAdministrationClient) -> None:
    cap = Captured()
    admin.upsert_distribution_policy(
        "dp",
        DistributionPolicy(
            name="test",
            offer_expires_after_seconds=10.0,
            mode=BestWorkerMode(min_concurrent_offers=1, max_concurrent_offers=1),
        ),
        raw_response_hook=cap,
    )
    got = body(cap)
    etag = got.pop("etag")
    assert etag
    assert got == {
        "id": "dp",
        "name": "test",
        "offerExpiresAfterSeconds": 10,
        "mode": {
            "kind": "bestWorker",
            "scoringRuleOptions": {
                "scoringParameters": ["jobLabels", "workerSelectors"],
                "isBatchScoringEnabled": False,
                "descendingOrder": True,
            },
            "minConcurrentOffers": 1,
            "maxConcurrentOffers": 1,
            "bypassSelectors": False,
        },
    }
    assert list(got) == ["id", "name", "offerExpiresAfterSeconds", "mode"]


def test_changing_the_mode_kind_drops_the_old_modes_fields(admin: JobRouterAdministrationClient) -> None:
    admin.upsert_distribution_policy("dp", {"mode": {"kind": "bestWorker"}})
    policy = admin.upsert_distribution_policy(
        "dp", {"mode": {"kind": "longestIdle", "maxConcurrentOffers": 2}}
    )
    assert policy.as_dict()["mode"] == {
        "kind": "longestIdle",
        "minConcurrentOffers": 1,
        "maxConcurrentOffers": 2,
        "bypassSelectors": False,
    }


def test_queue_gets_the_id_label_appended_then_first_after_an_update(
    admin: JobRouterAdministrationClient,
) -> None:
    setup_queue(admin, queue_id="q0")
    created = admin.upsert_queue(
        "q", RouterQueue(distribution_policy_id="dp", labels={"key1": "A", "key2": 10})
    )
    updated = admin.upsert_queue("q", {"labels": {"key1": "A", "key2": 10, "key3": True}})
    assert created.labels is not None
    assert updated.labels is not None
    assert list(created.labels.items()) == [("key1", "A"), ("key2", 10), ("Id", "q")]
    assert list(updated.labels.items()) == [("Id", "q"), ("key1", "A"), ("key2", 10), ("key3", True)]


def test_a_null_label_in_a_merge_patch_removes_it(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w", labels={"lang": "en", "skill": "billing"})
    worker = client.upsert_worker("w", {"labels": {"skill": None}})
    assert worker.labels == {"Id": "w", "lang": "en"}
    assert client.get_worker("w").labels == {"Id": "w", "lang": "en"}
    assert worker.capacity == 1  # fields not in the patch are kept


def test_worker_and_job_server_filled_fields(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    cap = Captured()
    client.upsert_worker(
        "w",
        {
            "queues": ["q"],
            "capacity": 1,
            "channels": [{"channelId": "voice", "capacityCostPerJob": 1}],
            "availableForOffers": False,
        },
        raw_response_hook=cap,
    )
    worker = body(cap)
    worker.pop("etag")
    assert worker == {
        "id": "w",
        "state": "inactive",
        "queues": ["q"],
        "capacity": 1,
        "labels": {"Id": "w"},
        "tags": {},
        "channels": [{"channelId": "voice", "capacityCostPerJob": 1}],
        "offers": [],
        "assignedJobs": [],
        "loadRatio": 0,
        "availableForOffers": False,
    }
    client.upsert_job(
        "j",
        {
            "channelId": "voice",
            "queueId": "q",
            "requestedWorkerSelectors": [{"key": "k", "labelOperator": "equal", "value": 1.0}],
        },
        raw_response_hook=cap,
    )
    job = body(cap)
    job.pop("etag")
    assert job == {
        "id": "j",
        "status": "created",
        "channelId": "voice",
        "queueId": "q",
        "priority": 1,
        "requestedWorkerSelectors": [
            {"expedite": False, "status": "active", "key": "k", "labelOperator": "equal", "value": 1}
        ],
        "attachedWorkerSelectors": [],
        "labels": {},
        "assignments": {},
        "tags": {},
        "notes": [],
        "matchingMode": {"kind": "queueAndMatch"},
    }


def test_a_queued_job_has_enqueued_at(admin: JobRouterAdministrationClient, client: JobRouterClient) -> None:
    setup_queue(admin)
    add_job(client, "j")
    job = wait_status(client, "j", "queued")
    assert job.enqueued_at is not None


def test_exception_actions_get_a_fresh_guid_on_every_upsert(admin: JobRouterAdministrationClient) -> None:
    setup_queue(admin)
    policy = ExceptionPolicy(
        exception_rules=[
            ExceptionRule(
                id="rule",
                trigger=QueueLengthExceptionTrigger(threshold=1),
                actions=[
                    CancelExceptionAction(),
                    ManualReclassifyExceptionAction(queue_id="q", priority=1),
                    ReclassifyExceptionAction(classification_policy_id=None),
                ],
            )
        ]
    )
    first = admin.upsert_exception_policy("ep", policy).as_dict()
    second = admin.upsert_exception_policy("ep", policy).as_dict()
    actions = first["exceptionRules"][0]["actions"]
    assert [a["kind"] for a in actions] == ["cancel", "manualReclassify", "reclassify"]
    assert actions[1]["workerSelectors"] == []
    assert actions[2]["labelsToUpsert"] == {}
    ids = [a["id"] for a in actions] + [a["id"] for a in second["exceptionRules"][0]["actions"]]
    assert len(set(ids)) == 6
    assert all(len(i) == 36 and i.count("-") == 4 for i in ids)


def test_classification_policy_without_attachments_echoes_empty_lists(
    admin: JobRouterAdministrationClient,
) -> None:
    setup_queue(admin)
    policy = admin.upsert_classification_policy("cp", ClassificationPolicy(name="cp", fallback_queue_id="q"))
    assert policy.as_dict() | {"etag": None} == {
        "id": "cp",
        "name": "cp",
        "fallbackQueueId": "q",
        "queueSelectorAttachments": [],
        "workerSelectorAttachments": [],
        "etag": None,
    }


def test_an_unknown_field_is_a_bad_request_naming_it(admin: JobRouterAdministrationClient) -> None:
    with pytest.raises(HttpResponseError) as raised:
        admin.upsert_distribution_policy("dp", {"offerExpiresAfterSecs": 10})
    assert raised.value.status_code == 400
    assert "offerExpiresAfterSecs" in response_text(raised.value)


def test_get_after_delete_is_not_found_with_the_live_error_body(admin: JobRouterAdministrationClient) -> None:
    admin.upsert_distribution_policy("dp", {"offerExpiresAfterSeconds": 10})
    cap = Captured()
    admin.delete_distribution_policy("dp", raw_response_hook=cap)
    admin.delete_distribution_policy("dp", raw_response_hook=cap)
    assert [r.status_code for r in cap.responses] == [204, 204]
    assert "Content-Type" not in cap.last.headers
    with pytest.raises(ResourceNotFoundError) as raised:
        admin.get_distribution_policy("dp")
    assert json.loads(response_text(raised.value)) == {
        "communicationError": {
            "code": "NotFound",
            "message": "The item was not found.",
            "target": "/routing/distributionPolicies/dp",
        }
    }


def test_resource_responses_carry_the_services_headers(admin: JobRouterAdministrationClient) -> None:
    cap = Captured()
    policy = admin.upsert_distribution_policy("dp", {"offerExpiresAfterSeconds": 10}, raw_response_hook=cap)
    headers = cap.last.headers
    assert (
        headers["api-supported-versions"]
        == "2021-04-07-preview1, 2022-07-18-preview, 2023-08-25-preview, 2023-11-01"
    )
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["ETag"].strip('"') == policy.etag
    assert headers["Last-Modified"].endswith(" GMT")


def test_if_match_with_a_stale_etag_is_precondition_failed(admin: JobRouterAdministrationClient) -> None:
    first = admin.upsert_distribution_policy("dp", {"offerExpiresAfterSeconds": 10})
    second = admin.upsert_distribution_policy(
        "dp", {"name": "changed"}, etag=first.etag, match_condition=MatchConditions.IfNotModified
    )
    assert second.etag != first.etag
    with pytest.raises(ResourceModifiedError) as raised:
        admin.upsert_distribution_policy(
            "dp", {"name": "lost update"}, etag=first.etag, match_condition=MatchConditions.IfNotModified
        )
    assert raised.value.status_code == 412
    assert admin.get_distribution_policy("dp").name == "changed"


def test_if_unmodified_since_before_the_last_change_is_precondition_failed(
    admin: JobRouterAdministrationClient,
) -> None:
    from datetime import UTC, datetime, timedelta

    admin.upsert_distribution_policy("dp", {"offerExpiresAfterSeconds": 10})
    with pytest.raises(HttpResponseError) as raised:
        admin.upsert_distribution_policy(
            "dp", {"name": "x"}, if_unmodified_since=datetime.now(UTC) - timedelta(hours=1)
        )
    assert raised.value.status_code == 412


def test_static_prioritization_rule_round_trips(admin: JobRouterAdministrationClient) -> None:
    setup_queue(admin)
    policy = admin.upsert_classification_policy(
        "cp", ClassificationPolicy(fallback_queue_id="q", prioritization_rule=StaticRouterRule(value=10.0))
    )
    assert policy.as_dict()["prioritizationRule"] == {"kind": "static", "value": 10}


@pytest.mark.parametrize(
    ("kind", "body", "missing"),
    [
        ("job", {"channelId": "voice", "queueId": "nope"}, "nope"),
        ("job", {"channelId": "voice", "classificationPolicyId": "no-cp"}, "no-cp"),
        ("queue", {"distributionPolicyId": "no-dp"}, "no-dp"),
        ("classificationPolicy", {"fallbackQueueId": "no-q"}, "no-q"),
    ],
    ids=["job-queue", "job-classification-policy", "queue-distribution-policy", "fallback-queue"],
)
def test_a_reference_to_a_missing_resource_is_a_bad_request_naming_it(
    admin: JobRouterAdministrationClient,
    client: JobRouterClient,
    kind: str,
    body: dict[str, Any],
    missing: str,
) -> None:
    upserts: dict[str, Callable[[], object]] = {
        "job": lambda: client.upsert_job("j", body),
        "queue": lambda: admin.upsert_queue("q", body),
        "classificationPolicy": lambda: admin.upsert_classification_policy("cp", body),
    }
    with pytest.raises(HttpResponseError) as raised:
        upserts[kind]()
    assert raised.value.status_code == 400
    assert missing in response_text(raised.value)


def test_a_job_needs_a_channel_and_a_queue_or_policy(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    for body in ({"queueId": "q"}, {"channelId": "voice"}):
        with pytest.raises(HttpResponseError) as raised:
            client.upsert_job("j", body)
        assert raised.value.status_code == 400


def test_re_upserting_unchanged_labels_keeps_their_stored_order(admin: JobRouterAdministrationClient) -> None:
    setup_queue(admin, queue_id="q0")
    admin.upsert_queue("q", {"distributionPolicyId": "dp", "labels": {"key1": "A", "key2": 10}})
    again = admin.upsert_queue("q", {"distributionPolicyId": "dp", "labels": {"key1": "A", "key2": 10}})
    assert list(again.labels or {}) == ["key1", "key2", "Id"]
