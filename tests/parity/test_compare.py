"""The comparison rules: what counts as a difference between a recorded and an emulator response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.parity.compare import Bindings, Context, Observed, Outcome, compare_exchange
from devstack.parity.recording import Exchange

RESOURCE_HEADERS = {
    "api-supported-versions": "2021-04-07-preview1, 2022-07-18-preview, 2023-08-25-preview, 2023-11-01",
    "Content-Type": "application/json; charset=utf-8",
    "ETag": "Sanitized",
    "Last-Modified": "Tue, 14 Nov 2023 01:06:29 GMT",
    "Request-Context": "appId=",
    "X-Cache": "CONFIG_NOCACHE",
    "Date": "Tue, 14 Nov 2023 01:06:29 GMT",
    "trace-id": "recorded-trace",
}
ACTION_HEADERS = {k: v for k, v in RESOURCE_HEADERS.items() if k not in ("ETag", "Last-Modified")}
NO_BODY_HEADERS = {k: v for k, v in ACTION_HEADERS.items() if k != "Content-Type"}
OFFER_ID = "2f73c132-15ae-4217-ad9f-5007564bacba"
EMU_OFFER_ID = "0b6e2c5e-1111-4a5b-8c9d-112233445566"
OTHER_EMU_ID = "9a9a9a9a-2222-4a5b-8c9d-112233445566"


def recorded(
    body: Any,
    *,
    method: str = "GET",
    target: str = "/routing/queues/q?api-version=2023-11-01",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Exchange:
    return Exchange(
        index=1,
        method=method,
        target=target,
        request_headers={},
        request_body=None,
        status=status,
        response_headers=RESOURCE_HEADERS if headers is None else headers,
        response_body=body,
        request_date=None,
    )


def emulated(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Observed:
    actual = dict(RESOURCE_HEADERS if headers is None else headers)
    actual.update(
        {"ETag": '"e1"', "Last-Modified": "Sat, 28 Nov 2026 21:25:00 GMT"} if "ETag" in actual else {}
    )
    actual["trace-id"] = "another-trace"
    actual["Date"] = "Sat, 28 Nov 2026 21:25:00 GMT"
    return Observed(status, actual, body)


def compare(
    exchange: Exchange, observed: Observed, bindings: Bindings | None = None, **context: Any
) -> Outcome:
    return compare_exchange(exchange, observed, bindings or Bindings(), Context(**context))


def described(outcome: Outcome) -> list[str]:
    return [f"{d.where}: {d.kind}" for d in outcome.differences]


QUEUE = {"id": "q", "name": "n", "labels": {"a": 1, "Id": "q"}, "etag": "Sanitized"}


# --- what matches -------------------------------------------------------------------------------------


def test_an_identical_response_except_etag_date_and_trace_id_matches() -> None:
    outcome = compare(recorded(QUEUE), emulated({**QUEUE, "etag": "4f1c"}))

    assert outcome.matched, described(outcome)


def test_an_etag_may_be_any_non_empty_string_but_not_empty() -> None:
    outcome = compare(recorded(QUEUE), emulated({**QUEUE, "etag": ""}))

    assert described(outcome) == ["body.etag: value"]


# --- status and headers -------------------------------------------------------------------------------


def test_a_different_status_is_one_difference_and_the_body_is_not_compared() -> None:
    error = {"communicationError": {"code": "BadRequest", "message": "no", "target": "/routing/queues/q"}}

    outcome = compare(recorded(QUEUE), emulated(error, status=400, headers=ACTION_HEADERS))

    assert described(outcome) == ["status: status"]
    assert outcome.differences[0].actual == "400 BadRequest: no"


@pytest.mark.parametrize(
    ("accept_created", "expected"),
    [(True, []), (False, ["status: status"])],
    ids=["pre-existing-object-accepts-201", "otherwise-201-differs"],
)
def test_a_201_for_a_recorded_200_is_accepted_only_for_an_object_that_pre_existed(
    accept_created: bool, expected: list[str]
) -> None:
    outcome = compare(
        recorded(QUEUE, method="PATCH"), emulated(QUEUE, status=201), accept_created=accept_created
    )

    assert described(outcome) == expected
    assert bool(outcome.notes) == accept_created


ETAG_PAIR = ["headers.ETag", "headers.Last-Modified"]


@pytest.mark.parametrize(
    ("recorded_headers", "emulator_headers", "expected"),
    [
        (RESOURCE_HEADERS, ACTION_HEADERS, [f"{h}: missing header" for h in ETAG_PAIR]),
        (ACTION_HEADERS, RESOURCE_HEADERS, [f"{h}: unexpected header" for h in ETAG_PAIR]),
        (
            RESOURCE_HEADERS,
            {**RESOURCE_HEADERS, "Content-Type": "application/json"},
            ["headers.Content-Type: value"],
        ),
        (
            RESOURCE_HEADERS,
            {**RESOURCE_HEADERS, "api-supported-versions": "2023-11-01"},
            ["headers.api-supported-versions: value"],
        ),
    ],
    ids=["etag-missing-on-a-resource", "etag-on-an-action", "content-type-value", "supported-versions"],
)
def test_headers_the_service_always_sends_are_compared(
    recorded_headers: dict[str, str], emulator_headers: dict[str, str], expected: list[str]
) -> None:
    outcome = compare(recorded(QUEUE, headers=recorded_headers), emulated(QUEUE, headers=emulator_headers))

    assert described(outcome) == expected


def test_a_last_modified_that_is_not_an_rfc_1123_date_differs() -> None:
    observed = emulated(QUEUE)
    headers = {**observed.headers, "Last-Modified": "2026-11-28T21:25:00Z"}

    outcome = compare(recorded(QUEUE), Observed(200, headers, QUEUE))

    assert described(outcome) == ["headers.Last-Modified: format"]


def test_a_body_on_a_204_differs() -> None:
    outcome = compare(
        recorded(None, method="DELETE", status=204, headers=NO_BODY_HEADERS),
        emulated({}, status=204, headers=NO_BODY_HEADERS),
    )

    assert described(outcome) == ["body: unexpected body"]


# --- keys, order, types, values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("emulator_body", "expected"),
    [
        ({k: v for k, v in QUEUE.items() if k != "name"}, ["body.name: missing key"]),
        ({**QUEUE, "exceptionPolicyId": "x"}, ["body.exceptionPolicyId: unexpected key"]),
        ({**QUEUE, "labels": {"Id": "q", "a": 1}}, ["body.labels: key order"]),
        ({"name": "n", "id": "q", "labels": {"a": 1, "Id": "q"}, "etag": "e"}, ["body: key order"]),
        ({**QUEUE, "labels": {"a": 1.0, "Id": "q"}}, ["body.labels.a: type"]),
        ({**QUEUE, "labels": {"a": True, "Id": "q"}}, ["body.labels.a: type"]),
        ({**QUEUE, "labels": {"a": 2, "Id": "q"}}, ["body.labels.a: value"]),
        ({**QUEUE, "name": None}, ["body.name: type"]),
        ({**QUEUE, "labels": []}, ["body.labels: type"]),
    ],
    ids=[
        "missing-key",
        "unexpected-key",
        "id-label-position",
        "top-level-key-order",
        "integer-vs-number",
        "boolean-vs-integer",
        "value",
        "null",
        "array-for-object",
    ],
)
def test_keys_order_types_and_values_must_be_the_same(emulator_body: Any, expected: list[str]) -> None:
    outcome = compare(recorded(QUEUE), emulated(emulator_body))

    assert described(outcome) == expected


def test_arrays_must_have_the_same_length_and_elements() -> None:
    body = {"id": "w", "queues": ["a", "b"]}

    outcome = compare(recorded(body), emulated({"id": "w", "queues": ["a", "c", "d"]}))

    assert described(outcome) == ["body.queues: length", "body.queues[1]: value"]


# --- server-made ids ----------------------------------------------------------------------------------


def worker_with_offer(offer_id: str) -> dict[str, Any]:
    return {
        "id": "w",
        "offers": [
            {
                "offerId": offer_id,
                "jobId": "j",
                "offeredAt": "2023-11-14T00:58:28.8329897+00:00",
                "expiresAt": "2023-11-14T01:08:28.8330416+00:00",
            }
        ],
    }


def emulator_offer(offer_id: str, *, expires: str = "2026-11-28T21:35:00.5+00:00") -> dict[str, Any]:
    return {
        "id": "w",
        "offers": [
            {
                "offerId": offer_id,
                "jobId": "j",
                "offeredAt": "2026-11-28T21:25:00.5+00:00",
                "expiresAt": expires,
            }
        ],
    }


def test_a_server_id_is_bound_the_first_time_and_must_stay_the_same() -> None:
    first = compare(recorded(worker_with_offer(OFFER_ID)), emulated(emulator_offer(EMU_OFFER_ID)))
    again = compare(
        recorded(worker_with_offer(OFFER_ID)), emulated(emulator_offer(OTHER_EMU_ID)), first.bindings
    )

    assert first.matched, described(first)
    assert first.bindings.get(OFFER_ID) == EMU_OFFER_ID
    assert described(again) == ["body.offers[0].offerId: value"]


def test_a_new_recorded_id_must_get_a_new_emulator_id() -> None:
    bindings = Bindings({OFFER_ID: EMU_OFFER_ID})
    new_recorded = "5d960ac3-b886-4de6-95b9-6f85cef7f8be"

    outcome = compare(
        recorded(worker_with_offer(new_recorded)), emulated(emulator_offer(EMU_OFFER_ID)), bindings
    )

    assert described(outcome) == ["body.offers[0].offerId: id reuse"]


def test_a_server_id_must_be_a_guid() -> None:
    outcome = compare(recorded(worker_with_offer(OFFER_ID)), emulated(emulator_offer("offer-1")))

    assert described(outcome) == ["body.offers[0].offerId: format"]


def test_a_guid_the_client_sent_is_compared_as_a_plain_value() -> None:
    outcome = compare(
        recorded(worker_with_offer(OFFER_ID)),
        emulated(emulator_offer(EMU_OFFER_ID)),
        client_strings=frozenset({OFFER_ID}),
    )

    assert described(outcome) == ["body.offers[0].offerId: value"]


def test_server_ids_used_as_map_keys_are_bound_like_values() -> None:
    def job(assignment_id: str) -> dict[str, Any]:
        return {"id": "j", "assignments": {assignment_id: {"assignmentId": assignment_id, "workerId": "w"}}}

    outcome = compare(recorded(job(OFFER_ID)), emulated(job(EMU_OFFER_ID)))

    assert outcome.matched, described(outcome)
    assert outcome.bindings.get(OFFER_ID) == EMU_OFFER_ID


def test_bound_ids_are_substituted_in_error_messages_and_targets() -> None:
    def error(offer_id: str) -> dict[str, Any]:
        return {
            "communicationError": {
                "code": "NotFound",
                "message": f"DeclineOfferCommandHandler: Offer not found. OfferId: {offer_id}, WorkerId: w",
                "target": f"/routing/workers/w/offers/{offer_id}:decline",
            }
        }

    exchange = recorded(error(OFFER_ID), method="POST", status=404, headers=ACTION_HEADERS)
    bindings = Bindings({OFFER_ID: EMU_OFFER_ID})

    assert compare(
        exchange, emulated(error(EMU_OFFER_ID), status=404, headers=ACTION_HEADERS), bindings
    ).matched
    assert described(
        compare(exchange, emulated(error(OTHER_EMU_ID), status=404, headers=ACTION_HEADERS), bindings)
    ) == ["body.communicationError.message: value", "body.communicationError.target: value"]


# --- times --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "emulator_time",
    ["2026-11-28T21:25:00Z", "2026-11-28T21:25:00", "yesterday", "2026-11-28T21:25:00.12345678+00:00"],
    ids=["z-suffix", "no-offset", "not-a-time", "eight-fraction-digits"],
)
def test_a_server_time_must_be_iso_8601_with_a_numeric_offset(emulator_time: str) -> None:
    job = {"id": "j", "enqueuedAt": "2023-11-14T00:58:28.1836704+00:00"}

    outcome = compare(recorded(job), emulated({"id": "j", "enqueuedAt": emulator_time}))

    assert described(outcome) == ["body.enqueuedAt: format"]


def test_a_time_the_client_sent_must_come_back_as_the_instant_sent() -> None:
    job = {
        "id": "j",
        "matchingMode": {"kind": "scheduleAndSuspend", "scheduleAt": "2023-11-14T01:04:10.384209+00:00"},
    }
    sent = datetime(2026, 11, 28, 21, 25, 30, 384209, tzinfo=UTC)
    instants = {datetime(2023, 11, 14, 1, 4, 10, 384209, tzinfo=UTC): sent}

    def echo(text: str) -> Outcome:
        body = {"id": "j", "matchingMode": {"kind": "scheduleAndSuspend", "scheduleAt": text}}
        return compare(recorded(job), emulated(body), client_instants=instants)

    assert echo("2026-11-28T21:25:30.384209+00:00").matched
    assert described(echo("2026-11-28T21:25:31.384209+00:00")) == ["body.matchingMode.scheduleAt: value"]


def test_an_offer_must_expire_after_the_recorded_interval() -> None:
    short = emulator_offer(EMU_OFFER_ID, expires="2026-11-28T21:25:10.5+00:00")

    outcome = compare(recorded(worker_with_offer(OFFER_ID)), emulated(short))

    assert described(outcome) == ["body.offers[0].expiresAt: interval"]


# --- list pages ---------------------------------------------------------------------------------------

LIST = "/routing/workers?api-version=2023-11-01&maxpagesize=2"
NEXT = "/routing/workers?continuationToken=cmVjb3JkZWQ%3D"


def page(ids: list[str], next_link: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"value": [{"id": i, "state": "active"} for i in ids]}
    if next_link is not None:
        body["nextLink"] = next_link
    return body


def compare_page(want: dict[str, Any], got: dict[str, Any], **context: Any) -> Outcome:
    context.setdefault("own_ids", frozenset({"w_1", "w_2", "w_3"}))
    return compare(
        recorded(want, target=LIST, headers=ACTION_HEADERS), emulated(got, headers=ACTION_HEADERS), **context
    )


def test_foreign_objects_in_a_recorded_page_are_ignored() -> None:
    outcome = compare_page(page(["w_2", "someone-elses"]), page(["w_2"]))

    assert outcome.matched, described(outcome)


def test_own_items_must_come_in_the_recorded_order() -> None:
    outcome = compare_page(page(["w_3", "w_2"]), page(["w_2", "w_3"]))

    assert described(outcome) == ["body.value: items"]


def test_the_emulator_must_not_list_objects_the_test_did_not_make() -> None:
    outcome = compare_page(page(["w_3"]), page(["w_3", "stray"]))

    assert described(outcome) == ["body.value: unexpected item"]


def test_a_next_link_binds_the_recorded_token_to_the_emulators() -> None:
    outcome = compare_page(page(["w_3"], NEXT), page(["w_3"], "/routing/workers?continuationToken=abc_-1"))

    assert outcome.matched, described(outcome)
    assert outcome.bindings.get("cmVjb3JkZWQ=") == "abc_-1"


@pytest.mark.parametrize(
    "emulator_link",
    [
        "/routing/workers?continuationToken=abc&api-version=2023-11-01",
        "http://127.0.0.1:1/routing/workers?continuationToken=abc",
        "/routing/jobs?continuationToken=abc",
    ],
    ids=["with-api-version", "absolute", "other-collection"],
)
def test_a_next_link_must_be_relative_without_api_version(emulator_link: str) -> None:
    outcome = compare_page(page(["w_3"], NEXT), page(["w_3"], emulator_link))

    assert "body.nextLink: format" in described(outcome)


def test_the_last_page_must_have_no_next_link() -> None:
    outcome = compare_page(page(["w_1"]), page(["w_1"], "/routing/workers?continuationToken=abc"))

    assert described(outcome) == ["body.nextLink: unexpected key"]


@pytest.mark.parametrize(
    ("foreign_only", "expected"),
    [(frozenset({"cmVjb3JkZWQ="}), []), (frozenset(), ["body.nextLink: missing key"])],
    ids=["recorded-next-pages-hold-only-foreign-objects", "recorded-next-pages-hold-own-objects"],
)
def test_a_missing_next_link_is_accepted_only_before_pages_of_foreign_objects(
    foreign_only: frozenset[str], expected: list[str]
) -> None:
    outcome = compare_page(page(["w_3"], NEXT), page(["w_3"]), foreign_only_tokens=foreign_only)

    assert described(outcome) == expected
