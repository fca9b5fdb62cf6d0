"""Spec for devstack.jobrouter.eligibility: when a worker may be offered a job, table by table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.jobrouter.eligibility import candidate, has_room, may_offer, worker_channel
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import format_time

T0 = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
LONGEST_IDLE: dict[str, Any] = {"kind": "longestIdle", "maxConcurrentOffers": 1, "bypassSelectors": False}


def worker(**fields: Any) -> Record:
    body: dict[str, Any] = {
        "id": "w1",
        "availableForOffers": True,
        "queues": ["q1"],
        "capacity": 10,
        "labels": {"lang": "en"},
        "channels": [{"channelId": "voice", "capacityCostPerJob": 5}],
        "offers": [],
        "assignedJobs": [],
        "loadRatio": 0,
    }
    internal = {"epoch": fields.pop("epoch", 1), "idleSince": format_time(T0 - timedelta(minutes=5))}
    body.update(fields)
    return Record(body=body, etag="e", last_modified=T0, seq=1, internal=internal)


def job(*, selectors: list[dict[str, Any]] | None = None, **internal: Any) -> Record:
    body = {
        "id": "j1",
        "queueId": "q1",
        "channelId": "voice",
        "labels": {},
        "requestedWorkerSelectors": selectors or [],
        "attachedWorkerSelectors": [],
    }
    return Record(body=body, etag="e", last_modified=T0, seq=2, internal={"offers": {}, **internal})


def no_jobs_on_channel() -> int:
    return 0


@pytest.mark.parametrize(
    ("fields", "jobs_on_channel", "expected"),
    [
        ({}, 0, True),
        ({"channels": [{"channelId": "chat", "capacityCostPerJob": 1}]}, 0, False),
        ({"capacity": 0, "channels": [{"channelId": "voice", "capacityCostPerJob": 0}]}, 0, False),
        ({"assignedJobs": [{"capacityCost": 6}]}, 0, False),
        ({"offers": [{"capacityCost": 5}]}, 0, True),
        ({"channels": [{"channelId": "voice", "capacityCostPerJob": 1, "maxNumberOfJobs": 2}]}, 1, True),
        ({"channels": [{"channelId": "voice", "capacityCostPerJob": 1, "maxNumberOfJobs": 2}]}, 2, False),
    ],
    ids=[
        "channel-and-capacity",
        "no-such-channel",
        "zero-total-capacity",
        "capacity-used-by-assignments",
        "capacity-left-equals-cost",
        "below-channel-limit",
        "at-channel-limit",
    ],
)
def test_has_room_needs_the_channel_capacity_for_its_cost_and_a_free_channel_slot(
    fields: dict[str, Any], jobs_on_channel: int, expected: bool
) -> None:
    assert has_room(worker(**fields).body, "voice", lambda: jobs_on_channel) is expected


def test_has_room_counts_channel_jobs_only_when_the_channel_has_a_limit() -> None:
    def must_not_count() -> int:
        raise AssertionError("counted without a maxNumberOfJobs")

    assert has_room(worker().body, "voice", must_not_count)


@pytest.mark.parametrize(
    ("job_internal", "worker_fields", "expected"),
    [
        ({}, {}, True),
        ({}, {"offers": [{"jobId": "j1", "capacityCost": 1}]}, False),
        ({"declined": {"w1": 1}}, {}, False),
        ({"declined": {"w1": 1}}, {"epoch": 2}, True),
        ({"retryAt": {"w1": format_time(T0 + timedelta(seconds=1))}}, {}, False),
        ({"retryAt": {"w1": format_time(T0)}}, {}, True),
    ],
    ids=[
        "fresh",
        "open-offer-for-the-job",
        "declined-this-epoch",
        "declined-before-registering-again",
        "retry-time-in-the-future",
        "retry-time-reached",
    ],
)
def test_may_offer_unless_an_offer_is_open_declined_or_waiting_for_its_retry_time(
    job_internal: dict[str, Any], worker_fields: dict[str, Any], expected: bool
) -> None:
    assert may_offer(job(**job_internal), worker(**worker_fields), T0) is expected


@pytest.mark.parametrize(
    ("worker_fields", "selectors", "mode", "eligible"),
    [
        ({}, [], LONGEST_IDLE, True),
        ({"availableForOffers": False}, [], LONGEST_IDLE, False),
        ({"queues": ["q2"]}, [], LONGEST_IDLE, False),
        ({}, [{"key": "lang", "labelOperator": "equal", "value": "fr"}], LONGEST_IDLE, False),
        (
            {},
            [{"key": "lang", "labelOperator": "equal", "value": "fr", "status": "expired"}],
            LONGEST_IDLE,
            True,
        ),
        (
            {},
            [{"key": "lang", "labelOperator": "equal", "value": "fr"}],
            LONGEST_IDLE | {"bypassSelectors": True},
            True,
        ),
    ],
    ids=[
        "eligible",
        "not-available",
        "other-queue",
        "selector-not-met",
        "expired-selector-ignored",
        "mode-bypasses-selectors",
    ],
)
def test_candidate_is_none_unless_every_eligibility_rule_holds(
    worker_fields: dict[str, Any], selectors: list[dict[str, Any]], mode: dict[str, Any], eligible: bool
) -> None:
    found = candidate(job(selectors=selectors), worker(**worker_fields), mode, T0, no_jobs_on_channel)
    assert (found is not None) is eligible


def test_candidate_carries_load_idle_time_and_best_worker_score() -> None:
    selectors = [{"key": "lang", "labelOperator": "equal", "value": "en"}]
    mode = {"kind": "bestWorker", "maxConcurrentOffers": 1, "scoringRuleOptions": {}}
    found = candidate(job(selectors=selectors), worker(loadRatio=0.5), mode, T0, no_jobs_on_channel)
    assert found is not None
    assert (found.worker_id, found.load_ratio, found.idle_since, found.score) == (
        "w1",
        0.5,
        T0 - timedelta(minutes=5),
        1.0,
    )


def test_worker_channel_finds_the_configuration_by_id() -> None:
    assert worker_channel(worker().body, "voice") == {"channelId": "voice", "capacityCostPerJob": 5}
    assert worker_channel(worker().body, "chat") is None
