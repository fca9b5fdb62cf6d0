"""Parsing worker lifecycle events: RouterWorkerOfferExpired and RouterWorkerDeregistered, either schema."""

from __future__ import annotations

from typing import Any

import pytest

from offer_handlers.errors import InvalidEventError
from offer_handlers.events import (
    Envelope,
    OfferExpired,
    WorkerDeregistered,
    is_offer_issued,
    is_worker_lifecycle,
    parse_worker_lifecycle,
    peek_ids,
)
from tests.fixtures import envelope, load_event, single, with_data

LIFECYCLE_FIXTURES = [
    "offer_expired.eventgrid",
    "offer_expired.cloudevents",
    "worker_deregistered.eventgrid",
    "worker_deregistered.cloudevents",
]


def test_an_offer_expired_event_grid_event_parses_every_field() -> None:
    event = parse_worker_lifecycle(envelope("offer_expired.eventgrid"))

    assert event == OfferExpired(
        event_id="5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
        worker_id="bot-1",
        offer_id="c2d3e4f5-0000-4a5b-8c9d-223344556677",
        job_id="job-8850",
        queue_id="support-en",
        channel_id="chat",
    )


def test_an_offer_expired_cloud_event_parses_to_the_same_shape() -> None:
    event = parse_worker_lifecycle(envelope("offer_expired.cloudevents"))

    assert isinstance(event, OfferExpired)
    assert (event.event_id, event.worker_id, event.offer_id) == (
        "6e2d3c4b-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
        "bot-2",
        "c2d3e4f5-0000-4a5b-8c9d-223344556678",
    )


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "worker_deregistered.eventgrid",
            WorkerDeregistered("7f3e4d5c-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "bot-1"),
        ),
        (
            "worker_deregistered.cloudevents",
            WorkerDeregistered("8a4f5e6d-7b8c-4d9e-8f0a-2b3c4d5e6f7a", "bot-2"),
        ),
    ],
    ids=["eventgrid", "cloudevents"],
)
def test_a_worker_deregistered_event_parses_to_its_worker(fixture: str, expected: WorkerDeregistered) -> None:
    assert parse_worker_lifecycle(envelope(fixture)) == expected


@pytest.mark.parametrize("fixture", LIFECYCLE_FIXTURES)
def test_lifecycle_events_are_recognised_and_are_not_offers(fixture: str) -> None:
    env = envelope(fixture)

    assert is_worker_lifecycle(env)
    assert not is_offer_issued(env)


@pytest.mark.parametrize(
    "fixture", ["offer_issued.eventgrid", "offer_revoked.eventgrid", "worker_registered.cloudevents"]
)
def test_other_event_types_are_not_lifecycle_events_and_parsing_them_names_the_type_field(
    fixture: str,
) -> None:
    env = envelope(fixture)

    assert not is_worker_lifecycle(env)
    with pytest.raises(InvalidEventError) as caught:
        parse_worker_lifecycle(env)
    assert caught.value.field == ("type" if env.schema == "cloudevents" else "eventType")


@pytest.mark.parametrize(
    ("fixture", "subject", "worker_id"),
    [
        ("offer_expired.eventgrid", "worker/bot-9/job/job-1", "bot-9"),
        ("worker_deregistered.cloudevents", "worker/bot-8", "bot-8"),
    ],
    ids=["offer-expired", "deregistered"],
)
def test_without_data_worker_id_the_worker_is_read_from_the_subject(
    fixture: str, subject: str, worker_id: str
) -> None:
    event = {**with_data(single(load_event(fixture)), workerId=...), "subject": subject}

    assert parse_worker_lifecycle(envelope(event)).worker_id == worker_id


def test_an_offer_expired_event_without_offer_or_job_ids_still_parses() -> None:
    event = with_data(single(load_event("offer_expired.eventgrid")), offerId=..., jobId=..., queueId=...)

    parsed = parse_worker_lifecycle(envelope(event))

    assert isinstance(parsed, OfferExpired)
    assert (parsed.offer_id, parsed.job_id, parsed.queue_id) == (None, None, None)


def test_double_encoded_data_is_accepted() -> None:
    env = Envelope(
        "eventgrid",
        "e1",
        "Microsoft.Communication.RouterWorkerDeregistered",
        "worker/bot-1",
        '{"workerId": "bot-1"}',
    )

    assert parse_worker_lifecycle(env) == WorkerDeregistered("e1", "bot-1")


def _deregistered(**overrides: Any) -> Envelope:
    base = {
        "schema": "eventgrid",
        "event_id": "e1",
        "event_type": "Microsoft.Communication.RouterWorkerDeregistered",
        "subject": "worker/bot-1",
        "data": {"workerId": "bot-1"},
    }
    return Envelope(**{**base, **overrides})


@pytest.mark.parametrize(
    ("env", "field"),
    [
        (_deregistered(event_id=None), "id"),
        (_deregistered(event_id=""), "id"),
        (_deregistered(data=["bot-1"]), "data"),
        (_deregistered(data="not json"), "data"),
        (_deregistered(data={"workerId": 17}), "data.workerId"),
        (_deregistered(data={"workerId": "  "}), "data.workerId"),
        (_deregistered(data={"workerId": "b" * 1025}), "data.workerId"),
        (_deregistered(data={}, subject="job/j1"), "data.workerId"),
        (_deregistered(data={}, subject=None), "data.workerId"),
        (_deregistered(data={}, subject="worker/"), "data.workerId"),
        (
            _deregistered(
                event_type="Microsoft.Communication.RouterWorkerOfferExpired",
                data={"workerId": "bot-1", "offerId": 5},
            ),
            "data.offerId",
        ),
    ],
    ids=[
        "no-id",
        "empty-id",
        "data-array",
        "data-bad-string",
        "numeric-worker",
        "blank-worker",
        "long-worker",
        "subject-not-a-worker",
        "no-subject",
        "subject-empty-worker",
        "numeric-offer-id",
    ],
)
def test_a_malformed_lifecycle_event_fails_naming_the_field(env: Envelope, field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_worker_lifecycle(env)

    assert caught.value.field == field


def test_peek_ids_reads_the_worker_and_offer_of_an_expiry_without_validating() -> None:
    ids = peek_ids(envelope("offer_expired.eventgrid"))

    assert (ids.event_id, ids.worker_id, ids.offer_id, ids.job_id) == (
        "5d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
        "bot-1",
        "c2d3e4f5-0000-4a5b-8c9d-223344556677",
        "job-8850",
    )


@pytest.mark.parametrize(
    ("subject", "worker_id"),
    [
        ("worker/" + "b" * 1024, "b" * 1024),
        ("worker/bot-1/", "bot-1"),
        ("worker/bot-1/job/j1/extra", "bot-1"),
    ],
    ids=["worker-id-at-the-length-limit", "trailing-slash", "longer-path"],
)
def test_the_subject_names_the_worker_in_its_second_segment(subject: str, worker_id: str) -> None:
    assert parse_worker_lifecycle(_deregistered(data={}, subject=subject)).worker_id == worker_id


@pytest.mark.parametrize(
    "subject",
    ["worker/" + "b" * 1025, "workers/bot-1", "worker", "worker/ ", "/worker/bot-1"],
    ids=["worker-id-too-long", "other-collection", "no-second-segment", "blank-worker", "leading-slash"],
)
def test_a_subject_that_names_no_worker_gives_none(subject: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_worker_lifecycle(_deregistered(data={}, subject=subject))

    assert caught.value.field == "data.workerId"
    assert caught.value.message == "missing (and the subject names no worker)"


def test_a_null_data_worker_id_is_read_from_the_subject() -> None:
    assert parse_worker_lifecycle(
        _deregistered(data={"workerId": None}, subject="worker/bot-3")
    ).worker_id == ("bot-3")


@pytest.mark.parametrize(
    ("schema", "field"),
    [("eventgrid", "eventType"), ("cloudevents", "type")],
    ids=["eventgrid", "cloudevents"],
)
def test_another_event_type_names_both_lifecycle_types_and_the_event(schema: str, field: str) -> None:
    env = _deregistered(schema=schema, event_type="Microsoft.Communication.RouterWorkerRegistered")

    with pytest.raises(InvalidEventError) as caught:
        parse_worker_lifecycle(env)

    assert (caught.value.field, caught.value.event_id) == (field, "e1")
    assert caught.value.message == (
        "expected 'Microsoft.Communication.RouterWorkerOfferExpired' or "
        "'Microsoft.Communication.RouterWorkerDeregistered'"
    )


def test_an_offer_expired_event_keeps_its_channel_and_queue() -> None:
    env = _deregistered(
        event_type="Microsoft.Communication.RouterWorkerOfferExpired",
        data={"workerId": "bot-1", "offerId": "o1", "jobId": "j1", "queueId": "q1", "channelId": "chat"},
    )

    assert parse_worker_lifecycle(env) == OfferExpired("e1", "bot-1", "o1", "j1", "q1", "chat")


@pytest.mark.parametrize(
    ("env", "field", "message"),
    [
        (_deregistered(data=[1]), "data", "expected a JSON object, got an array"),
        (_deregistered(data=None), "data", "expected a JSON object, got null"),
        (
            _deregistered(data={}, subject="job/j1"),
            "data.workerId",
            "missing (and the subject names no worker)",
        ),
        (_deregistered(data={"workerId": 5}), "data.workerId", "expected a string, got a number"),
    ],
    ids=["data-array", "data-null", "no-worker-anywhere", "numeric-worker"],
)
def test_a_malformed_lifecycle_event_names_the_event_and_says_what_is_wrong(
    env: Envelope, field: str, message: str
) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_worker_lifecycle(env)

    assert (caught.value.field, caught.value.event_id, caught.value.message) == (field, "e1", message)


@pytest.mark.parametrize("event_id", [None, "", 7], ids=["missing", "empty", "number"])
def test_a_lifecycle_event_without_an_id_says_so(event_id: object) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_worker_lifecycle(_deregistered(event_id=event_id))

    assert (caught.value.field, caught.value.message, caught.value.event_id) == (
        "id",
        "the event has no id",
        None,
    )
