"""Parsing: a delivered event (either schema, either field generation) becomes a typed Offer, or one error."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from offer_handlers.errors import InvalidEventError
from offer_handlers.events import Envelope, Offer, envelopes_from_json, is_offer_issued, parse_offer, peek_ids
from tests.fixtures import OFFER_FIXTURES, envelope, load_event, single, with_data

EG = single(load_event("offer_issued.eventgrid"))


def parse(event: dict[str, Any]) -> Offer:
    return parse_offer(envelope(event))


def test_event_grid_schema_parses_every_field() -> None:
    offer = parse_offer(envelope("offer_issued.eventgrid"))

    assert offer == Offer(
        event_id="3f0c9a1e-7d7b-4d5e-9f7e-1a2b3c4d5e6f",
        offer_id="b1e2c3d4-0000-4a5b-8c9d-112233445566",
        worker_id="agent-17",
        job_id="job-8841",
        expires_at=datetime(2024, 3, 5, 10, 16, 2, tzinfo=UTC),
        offered_at=datetime(2024, 3, 5, 10, 15, 2, tzinfo=UTC),
        queue_id="support-en",
        channel_id="voice",
        channel_reference="call-2c9f",
        job_priority=1,
        job_labels={"language": "en", "vip": True, "estimatedMinutes": 4.5},
        job_tags={"crm": "case-77"},
        worker_labels={"Id": "agent-17", "language": "en", "level": 2},
        worker_tags={"team": "blue"},
    )


def test_cloudevents_schema_parses_to_the_same_shape() -> None:
    offer = parse_offer(envelope("offer_issued.cloudevents"))

    assert (offer.event_id, offer.offer_id, offer.job_id, offer.channel_id, offer.job_priority) == (
        "8c2d4e6f-1a3b-4c5d-9e8f-7a6b5c4d3e2f",
        "b1e2c3d4-0000-4a5b-8c9d-112233445567",
        "job-8842",
        "chat",
        3,
    )
    assert offer.expires_at == datetime(2024, 3, 5, 10, 18, 45, 700000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fixture", "offered_at", "expires_at"),
    [
        (
            "offer_issued.eventgrid.legacy_names",
            datetime(2022, 7, 25, 17, 50, 0, 123456, tzinfo=UTC),
            datetime(2022, 7, 25, 17, 50, 30, 123456, tzinfo=UTC),
        ),
        (
            "offer_issued.cloudevents.legacy_names",
            datetime(2021, 6, 23, 2, 43, 30, 384714, tzinfo=UTC),
            datetime(2021, 6, 23, 2, 44, 30, 384767, tzinfo=UTC),
        ),
    ],
    ids=["eventgrid", "cloudevents"],
)
def test_older_field_names_offer_time_utc_and_expiry_time_utc_are_accepted(
    fixture: str, offered_at: datetime, expires_at: datetime
) -> None:
    offer = parse_offer(envelope(fixture))

    assert (offer.offered_at, offer.expires_at) == (offered_at, expires_at)


def test_current_field_names_win_when_both_generations_are_present() -> None:
    event = with_data(EG, expiryTimeUtc="2030-01-01T00:00:00Z")

    assert parse(event).expires_at == datetime(2024, 3, 5, 10, 16, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05T10:16:02.1234567Z", datetime(2024, 3, 5, 10, 16, 2, 123456, tzinfo=UTC)),
        ("2024-03-05T10:16:02Z", datetime(2024, 3, 5, 10, 16, 2, tzinfo=UTC)),
        ("2024-03-05T11:16:02.5+01:00", datetime(2024, 3, 5, 10, 16, 2, 500000, tzinfo=UTC)),
        ("2024-03-05T10:16:02", datetime(2024, 3, 5, 10, 16, 2, tzinfo=UTC)),
    ],
    ids=["7-digit-fraction", "no-fraction", "offset-converted-to-utc", "naive-read-as-utc"],
)
def test_times_are_aware_utc(text: str, expected: datetime) -> None:
    offer = parse(with_data(EG, expiresOn=text))

    assert offer.expires_at == expected
    assert offer.expires_at.tzinfo is UTC


def test_label_values_may_be_strings_numbers_or_booleans_and_null_means_unset() -> None:
    labels = {"s": "x", "i": 3, "f": 2.5, "t": True, "f0": False, "gone": None}

    offer = parse(with_data(EG, jobLabels=labels, workerLabels=labels))

    expected = {"s": "x", "i": 3, "f": 2.5, "t": True, "f0": False}
    assert offer.job_labels == expected
    assert offer.worker_labels == expected


def test_missing_or_null_optional_fields_give_empty_maps_and_nones() -> None:
    offer = parse_offer(envelope("offer_issued.minimal"))

    assert (
        offer.queue_id,
        offer.channel_id,
        offer.channel_reference,
        offer.job_priority,
        offer.offered_at,
    ) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert offer.job_labels == offer.job_tags == offer.worker_labels == offer.worker_tags == {}


def test_label_maps_are_read_only() -> None:
    offer = parse_offer(envelope("offer_issued.eventgrid"))

    with pytest.raises(TypeError):
        offer.job_labels["vip"] = False  # type: ignore[index]


def test_data_double_encoded_as_a_json_string_is_accepted() -> None:
    import json

    event = dict(EG, data=json.dumps(EG["data"]))

    assert parse(event).offer_id == "b1e2c3d4-0000-4a5b-8c9d-112233445566"


def test_a_whole_number_float_priority_is_an_integer() -> None:
    assert parse(with_data(EG, jobPriority=7.0)).job_priority == 7


# --- every malformed case names its field -----------------------------------------------------------

MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("offer-id-missing", {"offerId": ...}, "data.offerId"),
    ("offer-id-number", {"offerId": 12}, "data.offerId"),
    ("offer-id-empty", {"offerId": "  "}, "data.offerId"),
    ("offer-id-huge", {"offerId": "x" * 1025}, "data.offerId"),
    ("worker-id-missing", {"workerId": ...}, "data.workerId"),
    ("worker-id-null", {"workerId": None}, "data.workerId"),
    ("job-id-list", {"jobId": ["job"]}, "data.jobId"),
    ("expires-missing-both-names", {"expiresOn": ...}, "data.expiresOn"),
    ("expires-not-a-date", {"expiresOn": "tomorrow"}, "data.expiresOn"),
    ("expires-number", {"expiresOn": 1700000000}, "data.expiresOn"),
    ("expires-overflows-utc", {"expiresOn": "0001-01-01T00:00:00+05:00"}, "data.expiresOn"),
    ("offered-not-a-date", {"offeredOn": "2024-13-45T99:00:00Z"}, "data.offeredOn"),
    ("legacy-expiry-bad", {"expiresOn": ..., "expiryTimeUtc": "soon"}, "data.expiryTimeUtc"),
    ("priority-string", {"jobPriority": "high"}, "data.jobPriority"),
    ("priority-boolean", {"jobPriority": True}, "data.jobPriority"),
    ("priority-fraction", {"jobPriority": 1.5}, "data.jobPriority"),
    ("queue-id-number", {"queueId": 7}, "data.queueId"),
    ("channel-id-object", {"channelId": {}}, "data.channelId"),
    ("channel-reference-bool", {"channelReference": False}, "data.channelReference"),
    ("job-labels-list", {"jobLabels": ["vip"]}, "data.jobLabels"),
    ("job-label-object-value", {"jobLabels": {"vip": {"x": 1}}}, "data.jobLabels.vip"),
    ("worker-label-list-value", {"workerLabels": {"skills": ["a"]}}, "data.workerLabels.skills"),
    ("job-tags-string", {"jobTags": "x"}, "data.jobTags"),
    ("worker-tag-nan", {"workerTags": {"n": float("nan")}}, "data.workerTags.n"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [(c, f) for _, c, f in MALFORMED], ids=[i for i, _, _ in MALFORMED]
)
def test_malformed_data_raises_invalid_event_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse(with_data(EG, **changes))

    assert caught.value.field == field
    assert caught.value.event_id == EG["id"]
    assert field in str(caught.value)
    assert EG["id"] in str(caught.value)


# Each message above, word for word (the error reads "event '<id>': field '<field>': <message>").
MALFORMED_MESSAGES: dict[str, str] = {
    "offer-id-missing": "missing",
    "offer-id-number": "expected a string, got a number",
    "offer-id-empty": "empty",
    "offer-id-huge": "longer than 1024 characters",
    "worker-id-missing": "missing",
    "worker-id-null": "missing",
    "job-id-list": "expected a string, got an array",
    "expires-missing-both-names": "missing (also looked for expiryTimeUtc)",
    "expires-not-a-date": "not an ISO 8601 date-time",
    "expires-number": "expected an ISO 8601 date-time string, got a number",
    "expires-overflows-utc": "not an ISO 8601 date-time",
    "offered-not-a-date": "not an ISO 8601 date-time",
    "legacy-expiry-bad": "not an ISO 8601 date-time",
    "priority-string": "expected an integer, got a string",
    "priority-boolean": "expected an integer, got a boolean",
    "priority-fraction": "expected an integer, got a fraction",
    "queue-id-number": "expected a string, got a number",
    "channel-id-object": "expected a string, got an object",
    "channel-reference-bool": "expected a string, got a boolean",
    "job-labels-list": "expected an object, got an array",
    "job-label-object-value": "expected a string, number or boolean, got an object",
    "worker-label-list-value": "expected a string, number or boolean, got an array",
    "job-tags-string": "expected an object, got a string",
    "worker-tag-nan": "expected a finite number",
}


def test_every_malformed_case_has_its_message_word_for_word() -> None:
    assert set(MALFORMED_MESSAGES) == {case[0] for case in MALFORMED}


@pytest.mark.parametrize(("case_id", "message"), MALFORMED_MESSAGES.items(), ids=list(MALFORMED_MESSAGES))
def test_each_malformed_field_says_exactly_what_is_wrong(case_id: str, message: str) -> None:
    changes = next(case[1] for case in MALFORMED if case[0] == case_id)

    with pytest.raises(InvalidEventError) as caught:
        parse(with_data(EG, **changes))

    assert caught.value.message == message


@pytest.mark.parametrize(
    ("data", "field"),
    [(None, "data"), ([1, 2], "data"), ("not json", "data"), ('"a json string"', "data"), (7, "data")],
    ids=["null", "array", "non-json-string", "json-string-not-object", "number"],
)
def test_data_that_is_not_an_object_names_data(data: object, field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_offer(Envelope("eventgrid", "e1", EG["eventType"], "s", data))

    assert caught.value.field == field


@pytest.mark.parametrize(
    ("data", "kind"),
    [(None, "null"), ([1], "an array"), ("not json", "a string"), (7, "a number"), (object(), "object")],
    ids=["null", "array", "string", "number", "not-json-at-all"],
)
def test_data_that_is_not_an_object_says_what_it_is(data: object, kind: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_offer(Envelope("eventgrid", "e1", EG["eventType"], "s", data))

    assert caught.value.message == f"expected a JSON object, got {kind}"


def test_an_empty_body_says_it_holds_no_event() -> None:
    with pytest.raises(InvalidEventError) as caught:
        envelopes_from_json([])

    assert (caught.value.field, caught.value.message) == ("(body)", "an empty array holds no event")


@pytest.mark.parametrize("event_id", [None, "", 42], ids=["missing", "empty", "number"])
def test_an_event_without_a_string_id_names_id(event_id: object) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_offer(Envelope("eventgrid", event_id, EG["eventType"], "s", EG["data"]))

    assert caught.value.field == "id"


@pytest.mark.parametrize(("schema", "field"), [("eventgrid", "eventType"), ("cloudevents", "type")])
def test_parsing_another_event_type_names_the_schemas_type_field(schema: str, field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_offer(Envelope(schema, "e1", "Microsoft.Communication.RouterWorkerOfferRevoked", "s", {}))  # type: ignore[arg-type]

    assert caught.value.field == field


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [*((name, True) for name in OFFER_FIXTURES), ("offer_revoked.eventgrid", False)],
)
def test_is_offer_issued_looks_only_at_the_event_type(fixture: str, expected: bool) -> None:
    assert is_offer_issued(envelope(fixture)) is expected


def test_peek_ids_reads_ids_from_a_malformed_event_without_raising() -> None:
    broken = with_data(EG, expiresOn="never", jobId=17)

    ids = peek_ids(envelope(broken))

    assert (ids.event_id, ids.offer_id, ids.job_id, ids.worker_id) == (
        EG["id"],
        "b1e2c3d4-0000-4a5b-8c9d-112233445566",
        None,
        "agent-17",
    )


def test_peek_ids_of_an_event_without_data_has_only_the_event_id() -> None:
    ids = peek_ids(Envelope("cloudevents", "e9", "t", None, [1]))

    assert (ids.event_id, ids.offer_id, ids.job_id, ids.worker_id) == ("e9", None, None, None)


def test_envelopes_from_json_tells_the_schemas_apart_by_specversion() -> None:
    eg = envelopes_from_json(load_event("offer_issued.eventgrid"))
    ce = envelopes_from_json(load_event("offer_issued.cloudevents"))

    assert [e.schema for e in eg] == ["eventgrid"]
    assert [e.schema for e in ce] == ["cloudevents"]
    assert eg[0] == envelope("offer_issued.eventgrid")
    assert ce[0] == envelope("offer_issued.cloudevents")


@pytest.mark.parametrize(
    ("body", "field"),
    [([], "(body)"), ([EG, "x"], "[1]"), (None, "[0]")],
    ids=["empty", "string-item", "null"],
)
def test_envelopes_from_json_rejects_bodies_without_event_objects(body: object, field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        envelopes_from_json(body)

    assert caught.value.field == field


# --- edges the parse must get exactly right ------------------------------------------------------------


def test_a_null_label_drops_only_itself_never_the_labels_after_it() -> None:
    labels = {"first": "a", "gone": None, "after": 1, "last": True}

    offer = parse(with_data(EG, jobLabels=labels, jobTags=labels, workerLabels=labels, workerTags=labels))

    expected = {"first": "a", "after": 1, "last": True}
    assert (offer.job_labels, offer.job_tags, offer.worker_labels, offer.worker_tags) == (expected,) * 4


@pytest.mark.parametrize("key", ["offerId", "workerId", "jobId"])
def test_an_id_of_exactly_1024_characters_is_accepted(key: str) -> None:
    offer = parse(with_data(EG, **{key: "x" * 1024}))

    assert "x" * 1024 in (offer.offer_id, offer.worker_id, offer.job_id)


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_a_time_without_a_zone_is_read_as_utc_whatever_the_hosts_zone(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        offer = parse(with_data(EG, expiresOn="2024-03-05T10:16:02", offeredOn="2024-03-05T10:15:02"))
    finally:
        monkeypatch.undo()
        time.tzset()

    assert offer.expires_at == datetime(2024, 3, 5, 10, 16, 2, tzinfo=UTC)
    assert offer.offered_at == datetime(2024, 3, 5, 10, 15, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ({"n": float("inf")}, "data.jobLabels.n"),
        ({"ok": 1, "n": float("-inf")}, "data.jobLabels.n"),
    ],
    ids=["infinity", "minus-infinity-after-a-good-label"],
)
def test_an_infinite_label_value_is_malformed(labels: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse(with_data(EG, jobLabels=labels))

    assert caught.value.field == field
    assert caught.value.message == "expected a finite number"


@pytest.mark.parametrize(
    ("envelope_", "field"),
    [
        (Envelope("eventgrid", "e1", "Microsoft.Communication.RouterJobCreated", "s", {}), "eventType"),
        (Envelope("cloudevents", "e1", "Microsoft.Communication.RouterJobCreated", "s", {}), "type"),
        (Envelope("eventgrid", "e1", EG["eventType"], "s", None), "data"),
        (Envelope("cloudevents", "e1", EG["eventType"], "s", "not json"), "data"),
    ],
    ids=["eventgrid-type", "cloudevents-type", "null-data", "non-json-data"],
)
def test_an_error_about_the_envelope_names_the_event_id(envelope_: Envelope, field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_offer(envelope_)

    assert (caught.value.field, caught.value.event_id) == (field, "e1")
    assert "event 'e1'" in str(caught.value)


def test_an_error_without_an_event_id_says_event() -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_offer(Envelope("eventgrid", None, EG["eventType"], "s", EG["data"]))

    assert caught.value.event_id is None
    assert str(caught.value) == "event: field 'id': the event has no id"


@pytest.mark.parametrize(
    ("value", "kind"),
    [(True, "a boolean"), (7, "a number"), (1.5, "a number"), ([], "an array"), ({}, "an object")],
    ids=["boolean", "int", "float", "array", "object"],
)
def test_a_wrongly_typed_id_says_what_it_got(value: object, kind: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse(with_data(EG, offerId=value))

    assert caught.value.message == f"expected a string, got {kind}"


@pytest.mark.parametrize(
    ("item", "kind"), [(None, "null"), ("x", "a string"), (3, "a number")], ids=["null", "string", "number"]
)
def test_a_body_item_that_is_not_an_object_says_what_it_got(item: object, kind: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        envelopes_from_json([EG, item])

    assert (caught.value.field, caught.value.message) == ("[1]", f"expected a JSON object, got {kind}")


def test_a_cloudevent_becomes_an_envelope_with_its_id_type_subject_and_data() -> None:
    event = {"specversion": "1.0", "id": "c1", "type": "T", "subject": "S", "data": {"k": 1}, "eventType": 0}

    assert envelopes_from_json(event) == (Envelope("cloudevents", "c1", "T", "S", {"k": 1}),)


def test_an_event_grid_event_becomes_an_envelope_with_its_id_type_subject_and_data() -> None:
    event = {"id": "g1", "eventType": "T", "subject": "S", "data": {"k": 1}, "type": "x"}

    assert envelopes_from_json([event, event]) == (Envelope("eventgrid", "g1", "T", "S", {"k": 1}),) * 2


def test_peek_ids_ignores_ids_that_are_empty_or_not_strings() -> None:
    ids = peek_ids(Envelope("eventgrid", "", "t", "s", {"offerId": "", "jobId": 5, "workerId": "w"}))

    assert (ids.event_id, ids.offer_id, ids.job_id, ids.worker_id) == (None, None, None, "w")


def test_peek_ids_reads_double_encoded_data() -> None:
    ids = peek_ids(Envelope("eventgrid", "e", "t", "s", json.dumps({"offerId": "o", "jobId": "j"})))

    assert (ids.offer_id, ids.job_id) == ("o", "j")
