"""Spec for devstack.jobrouter.event_payloads (and its type names and field encoders): type names, subjects
and wire ``data`` of every Job Router event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from devstack.jobrouter import event_fields, event_types
from devstack.jobrouter import event_payloads as ev

T0 = datetime(2024, 3, 5, 10, 15, 2, tzinfo=UTC)

REFERENCE_EVENT_TYPES = [
    "RouterJobReceived",
    "RouterJobClassified",
    "RouterJobQueued",
    "RouterJobClassificationFailed",
    "RouterJobCompleted",
    "RouterJobClosed",
    "RouterJobCancelled",
    "RouterJobExceptionTriggered",
    "RouterJobWorkerSelectorsExpired",
    "RouterJobUnassigned",
    "RouterJobWaitingForActivation",
    "RouterJobSchedulingFailed",
    "RouterJobDeleted",
    "RouterWorkerOfferIssued",
    "RouterWorkerOfferAccepted",
    "RouterWorkerOfferDeclined",
    "RouterWorkerOfferRevoked",
    "RouterWorkerOfferExpired",
    "RouterWorkerRegistered",
    "RouterWorkerDeregistered",
    "RouterWorkerDeleted",
    "RouterWorkerUpdated",
]

JOB = ev.JobRef(job_id="j1", channel_reference="call-1", channel_id="voice")
OFFER = ev.OfferRef(
    worker_id="w1", job_id="j1", offer_id="o1", channel_reference="call-1", channel_id="voice", queue_id="q1"
)
WORKER_PROFILE = ev.WorkerProfile(
    worker_id="w1",
    queue_assignments=[{"id": "q1", "name": "Queue 1", "labels": {"Id": "q1"}, "distributionPolicyId": "d"}],
    channel_configurations=[{"channelId": "voice", "capacityCostPerJob": 1, "maxNumberOfJobs": None}],
    total_capacity=1,
)

# (id, builder call, full type, subject)
BUILDERS: list[tuple[str, Callable[[], event_types.RouterEvent], str, str]] = [
    (
        "offer_issued",
        lambda: ev.offer_issued(OFFER, job_priority=1, offered_on=T0, expires_on=T0 + timedelta(minutes=1)),
        event_types.WORKER_OFFER_ISSUED,
        "worker/w1/job/j1",
    ),
    (
        "offer_accepted",
        lambda: ev.offer_accepted(OFFER, assignment_id="a1", job_priority=1),
        event_types.WORKER_OFFER_ACCEPTED,
        "worker/w1/job/j1",
    ),
    (
        "offer_declined",
        lambda: ev.offer_declined(OFFER),
        event_types.WORKER_OFFER_DECLINED,
        "worker/w1/job/j1",
    ),
    (
        "offer_revoked",
        lambda: ev.offer_revoked(OFFER),
        event_types.WORKER_OFFER_REVOKED,
        "worker/w1/job/j1",
    ),
    (
        "offer_expired",
        lambda: ev.offer_expired(OFFER),
        event_types.WORKER_OFFER_EXPIRED,
        "worker/w1/job/j1",
    ),
    (
        "worker_registered",
        lambda: ev.worker_registered(WORKER_PROFILE),
        event_types.WORKER_REGISTERED,
        "worker/w1",
    ),
    (
        "worker_updated",
        lambda: ev.worker_updated(WORKER_PROFILE, updated_worker_properties=["Labels"]),
        event_types.WORKER_UPDATED,
        "worker/w1",
    ),
    (
        "worker_deregistered",
        lambda: ev.worker_deregistered(worker_id="w1"),
        event_types.WORKER_DEREGISTERED,
        "worker/w1",
    ),
    ("worker_deleted", lambda: ev.worker_deleted(worker_id="w1"), event_types.WORKER_DELETED, "worker/w1"),
    (
        "job_received",
        lambda: ev.job_received(JOB, job_status="queued", unavailable_for_matching=False),
        event_types.JOB_RECEIVED,
        "job/j1/channel/voice",
    ),
    (
        "job_classified",
        lambda: ev.job_classified(replace(JOB, queue_id="q1"), queue_details={"id": "q1"}),
        event_types.JOB_CLASSIFIED,
        "job/j1/channel/voice/queue/q1",
    ),
    (
        "job_queued",
        lambda: ev.job_queued(replace(JOB, queue_id="q1")),
        event_types.JOB_QUEUED,
        "job/j1/channel/voice/queue/q1",
    ),
    (
        "job_classification_failed",
        lambda: ev.job_classification_failed(JOB, classification_policy_id="cp1", errors=[]),
        event_types.JOB_CLASSIFICATION_FAILED,
        "job/j1/channel/voice/classificationpolicy/cp1",
    ),
    (
        "job_completed",
        lambda: ev.job_completed(JOB, assignment_id="a1", worker_id="w1"),
        event_types.JOB_COMPLETED,
        "job/j1/channel/voice/assignment/a1",
    ),
    (
        "job_closed",
        lambda: ev.job_closed(JOB, assignment_id="a1", worker_id="w1"),
        event_types.JOB_CLOSED,
        "job/j1/channel/voice/assignment/a1",
    ),
    (
        "job_unassigned",
        lambda: ev.job_unassigned(JOB, assignment_id="a1", worker_id="w1"),
        event_types.JOB_UNASSIGNED,
        "job/j1/channel/voice/assignment/a1",
    ),
    (
        "job_cancelled",
        lambda: ev.job_cancelled(JOB, disposition_code="Cancelled"),
        event_types.JOB_CANCELLED,
        "job/j1/channel/voice/disposition/Cancelled",
    ),
    (
        "job_exception_triggered",
        lambda: ev.job_exception_triggered(JOB, rule_key="r1"),
        event_types.JOB_EXCEPTION_TRIGGERED,
        "job/j1/channel/voice/exceptionrule/r1",
    ),
    (
        "job_worker_selectors_expired",
        lambda: ev.job_worker_selectors_expired(replace(JOB, queue_id="q1")),
        event_types.JOB_WORKER_SELECTORS_EXPIRED,
        "job/j1/channel/voice/queue/q1",
    ),
    (
        "job_waiting_for_activation",
        lambda: ev.job_waiting_for_activation(JOB, scheduled_on=T0, unavailable_for_matching=True),
        event_types.JOB_WAITING_FOR_ACTIVATION,
        "job/j1/channel/voice",
    ),
    (
        "job_scheduling_failed",
        lambda: ev.job_scheduling_failed(JOB, scheduled_on=T0),
        event_types.JOB_SCHEDULING_FAILED,
        "job/j1/channel/voice",
    ),
    ("job_deleted", lambda: ev.job_deleted(JOB), event_types.JOB_DELETED, "job/j1/channel/voice"),
]


def test_all_event_types_are_the_22_documented_names() -> None:
    assert [event_types.short_event_type(t) for t in event_types.ALL_EVENT_TYPES] == REFERENCE_EVENT_TYPES
    assert all(t.startswith("Microsoft.Communication.Router") for t in event_types.ALL_EVENT_TYPES)


def test_there_is_one_builder_per_event_type() -> None:
    assert sorted(b[2] for b in BUILDERS) == sorted(event_types.ALL_EVENT_TYPES)


@pytest.mark.parametrize(
    ("build", "event_type", "subject"), [b[1:] for b in BUILDERS], ids=[b[0] for b in BUILDERS]
)
def test_builder_sets_type_and_documented_subject(
    build: Callable[[], event_types.RouterEvent], event_type: str, subject: str
) -> None:
    event = build()
    assert (event.event_type, event.subject) == (event_type, subject)


def test_offer_issued_data_matches_the_reference_example() -> None:
    event = ev.offer_issued(
        ev.OfferRef(
            worker_id="agent-17",
            job_id="job-8841",
            offer_id="b1e2c3d4-0000-4a5b-8c9d-112233445566",
            channel_reference="call-2c9f",
            channel_id="voice",
            queue_id="support-en",
        ),
        job_priority=1,
        offered_on=T0,
        expires_on=T0 + timedelta(minutes=1),
        job_labels={"language": "en", "vip": True},
        job_tags={},
        worker_labels={"Id": "agent-17", "language": "en"},
        worker_tags={},
    )
    assert event.data == {
        "workerId": "agent-17",
        "jobId": "job-8841",
        "channelReference": "call-2c9f",
        "channelId": "voice",
        "queueId": "support-en",
        "offerId": "b1e2c3d4-0000-4a5b-8c9d-112233445566",
        "offeredOn": "2024-03-05T10:15:02.0000000Z",
        "expiresOn": "2024-03-05T10:16:02.0000000Z",
        "jobPriority": 1,
        "jobLabels": {"language": "en", "vip": True},
        "jobTags": {},
        "workerLabels": {"Id": "agent-17", "language": "en"},
        "workerTags": {},
    }


def test_offer_accepted_carries_assignment_and_maps() -> None:
    event = ev.offer_accepted(OFFER, assignment_id="a1", job_priority=5, job_labels={"x": 1})
    assert event.data == {
        "workerId": "w1",
        "jobId": "j1",
        "channelReference": "call-1",
        "channelId": "voice",
        "queueId": "q1",
        "offerId": "o1",
        "jobPriority": 5,
        "assignmentId": "a1",
        "jobLabels": {"x": 1},
        "jobTags": {},
        "workerLabels": {},
        "workerTags": {},
    }


@pytest.mark.parametrize(
    "build",
    [ev.offer_declined, ev.offer_revoked, ev.offer_expired],
    ids=["declined", "revoked", "expired"],
)
def test_plain_offer_events_carry_only_the_offer_ids(build: Callable[..., event_types.RouterEvent]) -> None:
    assert build(OFFER).data == {
        "workerId": "w1",
        "jobId": "j1",
        "channelReference": "call-1",
        "channelId": "voice",
        "queueId": "q1",
        "offerId": "o1",
    }


def test_optional_fields_that_are_none_are_left_out() -> None:
    event = ev.offer_revoked(ev.OfferRef(worker_id="w1", job_id="j1", offer_id="o1", channel_id="voice"))
    assert event.data == {"workerId": "w1", "jobId": "j1", "channelId": "voice", "offerId": "o1"}


def test_a_missing_subject_component_renders_as_an_empty_segment() -> None:
    assert ev.job_deleted(ev.JobRef(job_id="j1")).subject == "job/j1/channel/"


def test_job_received_sends_pascal_case_status_and_current_field_names() -> None:
    event = ev.job_received(
        replace(JOB, labels={"lang": "en"}),
        job_status="pendingClassification",
        unavailable_for_matching=False,
        classification_policy_id="cp1",
        priority=2,
        requested_worker_selectors=[{"key": "skill", "labelOperator": "greaterThan", "value": 5}],
        scheduled_on=T0,
    )
    assert event.data == {
        "jobId": "j1",
        "channelReference": "call-1",
        "channelId": "voice",
        "labels": {"lang": "en"},
        "tags": {},
        "jobStatus": "PendingClassification",
        "classificationPolicyId": "cp1",
        "priority": 2,
        "requestedWorkerSelectors": [
            {"key": "skill", "labelOperator": "Greater", "value": 5, "state": "active"},
        ],
        "scheduledOn": "2024-03-05T10:15:02.0000000Z",
        "unavailableForMatching": False,
    }


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("queued", "Queued"),
        ("pendingClassification", "PendingClassification"),
        ("waitingForActivation", "WaitingForActivation"),
        ("Assigned", "Assigned"),
    ],
    ids=["queued", "pendingClassification", "waitingForActivation", "already-pascal"],
)
def test_job_status_is_converted_to_pascal_case(given: str, sent: str) -> None:
    assert event_fields.job_status_pascal(given) == sent


def test_unknown_job_status_is_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="'bogus'"):
        ev.job_received(JOB, job_status="bogus", unavailable_for_matching=False)


def test_job_classified_uses_queue_details_with_id_name_labels() -> None:
    event = ev.job_classified(
        replace(JOB, queue_id="q1"),
        queue_details={"id": "q1", "name": "Support", "labels": {"Id": "q1"}, "distributionPolicyId": "d1"},
        classification_policy_id="cp1",
        priority=3,
        attached_worker_selectors=[{"key": "lang", "labelOperator": "equal", "value": "en"}],
    )
    assert event.data["queueDetails"] == {"id": "q1", "name": "Support", "labels": {"Id": "q1"}}
    assert event.data["attachedWorkerSelectors"] == [
        {"key": "lang", "labelOperator": "Equal", "value": "en", "state": "active"}
    ]
    assert event.data["queueId"] == "q1"
    assert "queueInfo" not in event.data


def test_job_queued_lists_both_selector_kinds() -> None:
    data = ev.job_queued(replace(JOB, queue_id="q1"), priority=1).data
    assert data == {
        "jobId": "j1",
        "channelReference": "call-1",
        "channelId": "voice",
        "queueId": "q1",
        "labels": {},
        "tags": {},
        "priority": 1,
        "attachedWorkerSelectors": [],
        "requestedWorkerSelectors": [],
    }


def test_job_closed_carries_assignment_worker_and_disposition() -> None:
    data = ev.job_closed(JOB, assignment_id="a1", worker_id="w1", disposition_code="Resolved").data
    assert (data["assignmentId"], data["workerId"], data["dispositionCode"]) == ("a1", "w1", "Resolved")


def test_job_cancelled_carries_note_and_disposition() -> None:
    data = ev.job_cancelled(JOB, disposition_code="Spam", note="caller hung up").data
    assert (data["note"], data["dispositionCode"]) == ("caller hung up", "Spam")


def test_job_classification_failed_lists_errors_without_null_members() -> None:
    data = ev.job_classification_failed(
        JOB,
        classification_policy_id="cp1",
        errors=[{"code": "NotFound", "message": "queue missing", "target": None}],
    ).data
    assert data["errors"] == [{"code": "NotFound", "message": "queue missing"}]
    assert data["classificationPolicyId"] == "cp1"


def test_job_exception_triggered_carries_rule_key_and_id() -> None:
    data = ev.job_exception_triggered(JOB, rule_key="r1", exception_rule_id="ep1").data
    assert (data["ruleKey"], data["exceptionRuleId"]) == ("r1", "ep1")


def test_job_worker_selectors_expired_uses_current_field_names() -> None:
    selector = {"key": "k", "labelOperator": "equal", "value": 1, "status": "expired"}
    data = ev.job_worker_selectors_expired(
        replace(JOB, queue_id="q1"),
        expired_requested_worker_selectors=[selector],
        expired_attached_worker_selectors=[],
    ).data
    assert data["expiredRequestedWorkerSelectors"] == [
        {"key": "k", "labelOperator": "Equal", "value": 1, "state": "expired"}
    ]
    assert data["expiredAttachedWorkerSelectors"] == []
    assert "requestedWorkerSelectorsExpired" not in data


def test_job_waiting_for_activation_carries_schedule_and_matching_flag() -> None:
    data = ev.job_waiting_for_activation(JOB, scheduled_on=T0, unavailable_for_matching=True, priority=1).data
    assert data["scheduledOn"] == "2024-03-05T10:15:02.0000000Z"
    assert data["unavailableForMatching"] is True
    assert data["expiredAttachedWorkerSelectors"] == data["expiredRequestedWorkerSelectors"] == []


def test_job_scheduling_failed_carries_reason() -> None:
    data = ev.job_scheduling_failed(JOB, scheduled_on=T0, failure_reason="queue deleted").data
    assert data["failureReason"] == "queue deleted"
    assert data["scheduledOn"] == "2024-03-05T10:15:02.0000000Z"


def test_worker_registered_describes_queues_channels_and_capacity() -> None:
    event = ev.worker_registered(replace(WORKER_PROFILE, labels={"Id": "w1"}, tags={"team": "a"}))
    assert event.data == {
        "workerId": "w1",
        "queueAssignments": [{"id": "q1", "name": "Queue 1", "labels": {"Id": "q1"}}],
        "channelConfigurations": [{"channelId": "voice", "capacityCostPerJob": 1}],
        "totalCapacity": 1,
        "labels": {"Id": "w1"},
        "tags": {"team": "a"},
    }


def test_worker_updated_lists_changed_properties() -> None:
    data = ev.worker_updated(WORKER_PROFILE, updated_worker_properties=["Labels", "TotalCapacity"]).data
    assert data["updatedWorkerProperties"] == ["Labels", "TotalCapacity"]


def test_worker_updated_rejects_an_unknown_property_name() -> None:
    with pytest.raises(ValueError, match="Colour"):
        ev.worker_updated(WORKER_PROFILE, updated_worker_properties=["Colour"])


def test_worker_deregistered_carries_only_the_worker_id() -> None:
    assert ev.worker_deregistered(worker_id="w1").data == {"workerId": "w1"}


@pytest.mark.parametrize(
    ("rest", "event_operator"),
    [
        ("equal", "Equal"),
        ("notEqual", "NotEqual"),
        ("lessThan", "Less"),
        ("lessThanOrEqual", "LessThanOrEqual"),
        ("greaterThan", "Greater"),
        ("greaterThanOrEqual", "GreaterThanOrEqual"),
    ],
    ids=["equal", "notEqual", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"],
)
def test_selector_label_operator_uses_the_event_schema_enum(rest: str, event_operator: str) -> None:
    assert (
        event_fields.event_worker_selector({"key": "k", "labelOperator": rest, "value": 1})["labelOperator"]
        == event_operator
    )


def test_selector_expiry_fields_are_renamed_for_the_event() -> None:
    rest = {
        "key": "skill",
        "labelOperator": "equal",
        "value": "x",
        "expiresAfterSeconds": 30.0,
        "expedite": False,
        "status": "active",
        "expiresAt": "2024-03-05T10:15:32.1234567+00:00",
    }
    assert event_fields.event_worker_selector(rest) == {
        "key": "skill",
        "labelOperator": "Equal",
        "value": "x",
        "ttlSeconds": 30.0,
        "state": "active",
        "expirationTime": "2024-03-05T10:15:32.1234560Z",
    }


@pytest.mark.parametrize(
    "selector",
    [{"key": "k", "labelOperator": "like", "value": 1}, {"labelOperator": "equal", "value": 1}],
    ids=["unknown-operator", "missing-key"],
)
def test_bad_selector_is_rejected(selector: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="selector"):
        event_fields.event_worker_selector(selector)


@pytest.mark.parametrize(
    ("moment", "wire"),
    [
        (datetime(2024, 3, 5, 10, 15, 2, 123456, tzinfo=UTC), "2024-03-05T10:15:02.1234560Z"),
        (
            datetime(2024, 3, 5, 11, 15, 2, tzinfo=timezone(timedelta(hours=1))),
            "2024-03-05T10:15:02.0000000Z",
        ),
        (datetime(2024, 3, 5, 0, 0, 0, 1, tzinfo=UTC), "2024-03-05T00:00:00.0000010Z"),
    ],
    ids=["microseconds", "other-offset-converted-to-utc", "one-microsecond"],
)
def test_times_are_utc_with_seven_fraction_digits_and_z(moment: datetime, wire: str) -> None:
    assert event_fields.format_event_time(moment) == wire


def test_naive_datetime_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValueError, match="offered_on"):
        ev.offer_issued(
            OFFER,
            job_priority=1,
            offered_on=datetime(2024, 1, 1),
            expires_on=T0,
        )


def test_maps_are_copied_so_later_changes_do_not_leak_into_the_event() -> None:
    labels = {"lang": "en"}
    event = ev.job_deleted(replace(JOB, labels=labels))
    labels["lang"] = "fr"
    assert event.data["labels"] == {"lang": "en"}


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("RouterWorkerOfferIssued", event_types.WORKER_OFFER_ISSUED),
        ("routerworkerofferissued", event_types.WORKER_OFFER_ISSUED),
        ("Microsoft.Communication.RouterJobQueued", event_types.JOB_QUEUED),
    ],
    ids=["short", "short-any-case", "full"],
)
def test_event_type_names_resolve_short_or_full(name: str, full: str) -> None:
    assert event_types.resolve_event_type(name) == full


def test_unknown_event_type_name_is_rejected_listing_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'RouterOfferIssued'.*RouterWorkerOfferIssued"):
        event_types.resolve_event_type("RouterOfferIssued")


def test_router_event_is_frozen() -> None:
    event = ev.worker_deregistered(worker_id="w1")
    with pytest.raises(AttributeError):
        event.subject = "x"  # type: ignore[misc]
