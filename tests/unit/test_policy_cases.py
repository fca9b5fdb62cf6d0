"""Policy test cases: the document is validated naming the case and field, and a case passes only when the
policy's decision and reason are exactly the expected ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offer_handlers.decide import Accept, Decision, Decline, Leave
from offer_handlers.errors import InvalidCasesError
from offer_handlers.policy_cases import (
    Expected,
    check_cases,
    describe_decision,
    describe_expected,
    load_cases_file,
)
from offer_handlers.policy_document import load_policy_file, parse_policy
from tests.fixtures import EXAMPLES_DIR

EVENTS = EXAMPLES_DIR / "events"
ACCEPT_EVENT = str(EVENTS / "accept.eventgrid.json")  # bot-7, a chat on support-en, offered 10:15:02 UTC
POLICY = load_policy_file(EXAMPLES_DIR / "policy.json")


def write_cases(tmp_path: Path, *cases: dict[str, Any], **top: Any) -> Path:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"version": 1, "cases": list(cases), **top}), encoding="utf-8")
    return path


def case(name: str = "c1", **fields: Any) -> dict[str, Any]:
    return {"name": name, "event": ACCEPT_EVENT, "expect": {"action": "accept", "reason": "x"}, **fields}


def passed(tmp_path: Path, policy_document: dict[str, Any], expect: dict[str, Any], **fields: Any) -> bool:
    path = write_cases(tmp_path, case(expect=expect, **fields))
    (result,) = check_cases(parse_policy(policy_document), load_cases_file(path))
    return result.passed


def single_rule(then: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "rules": [{"name": "r", "then": then}], "default": {"action": "leave"}}


DECISIONS = {
    "accept": ({"action": "accept"}, {"action": "accept", "reason": "r"}),
    "leave": ({"action": "leave"}, {"action": "leave", "reason": "r"}),
    "decline for good": (
        {"action": "decline", "retry": "never"},
        {"action": "decline", "retry": "never", "reason": "r"},
    ),
    "decline with retry": (
        {"action": "decline", "retryAfterSeconds": 90},
        {"action": "decline", "retryAfterSeconds": 90, "reason": "r"},
    ),
}


@pytest.mark.parametrize(("then", "expect"), DECISIONS.values(), ids=DECISIONS.keys())
def test_a_case_passes_when_the_decision_and_reason_are_the_expected_ones(
    tmp_path: Path, then: dict[str, Any], expect: dict[str, Any]
) -> None:
    assert passed(tmp_path, single_rule(then), expect)


MISMATCHES = {
    "another reason": ({"action": "accept"}, {"action": "accept", "reason": "default"}),
    "another action": ({"action": "accept"}, {"action": "leave", "reason": "r"}),
    "for good, not with retry": (
        {"action": "decline", "retry": "never"},
        {"action": "decline", "retryAfterSeconds": 90, "reason": "r"},
    ),
    "with retry, not for good": (
        {"action": "decline", "retryAfterSeconds": 90},
        {"action": "decline", "retry": "never", "reason": "r"},
    ),
    "another retry delay": (
        {"action": "decline", "retryAfterSeconds": 90},
        {"action": "decline", "retryAfterSeconds": 60, "reason": "r"},
    ),
}


@pytest.mark.parametrize(("then", "expect"), MISMATCHES.values(), ids=MISMATCHES.keys())
def test_a_case_fails_on_any_difference(tmp_path: Path, then: dict[str, Any], expect: dict[str, Any]) -> None:
    assert not passed(tmp_path, single_rule(then), expect)


def test_a_case_is_evaluated_at_the_offers_offered_at_time_by_default(tmp_path: Path) -> None:
    (loaded,) = load_cases_file(write_cases(tmp_path, case()))

    assert loaded.now == datetime(2024, 3, 5, 10, 15, 2, tzinfo=UTC)
    assert loaded.now_source == "the offer's offered-at time"


def test_a_given_time_without_a_zone_is_utc(tmp_path: Path) -> None:
    (loaded,) = load_cases_file(write_cases(tmp_path, case(now="2024-03-05T19:00:00")))

    assert (loaded.now, loaded.now_source) == (datetime(2024, 3, 5, 19, tzinfo=UTC), "given")


def test_a_given_time_keeps_its_own_offset(tmp_path: Path) -> None:
    (loaded,) = load_cases_file(write_cases(tmp_path, case(now="2024-03-05T19:00:00+01:00")))

    assert loaded.now == datetime(2024, 3, 5, 18, tzinfo=UTC)
    assert loaded.now.utcoffset() == timedelta(hours=1)


def test_a_cases_document_may_name_its_json_schema(tmp_path: Path) -> None:
    path = write_cases(tmp_path, case(), **{"$schema": "https://example.com/policy-cases.schema.json"})

    assert [loaded.name for loaded in load_cases_file(path)] == ["c1"]


def test_the_evaluation_time_decides_a_time_window(tmp_path: Path) -> None:
    office_hours = {"action": "accept", "reason": "bots-in-office-hours"}

    assert passed(tmp_path, json.loads((EXAMPLES_DIR / "policy.json").read_text()), office_hours)
    assert not passed(
        tmp_path,
        json.loads((EXAMPLES_DIR / "policy.json").read_text()),
        office_hours,
        now="2024-03-05T19:00Z",
    )


def test_data_changes_replace_fields_of_the_events_data(tmp_path: Path) -> None:
    path = write_cases(tmp_path, case(data={"workerLabels": {"kind": "human"}, "workerId": "agent-9"}))

    (loaded,) = load_cases_file(path)

    assert loaded.offer.worker_id == "agent-9"
    assert dict(loaded.offer.worker_labels) == {"kind": "human"}
    assert loaded.offer.queue_id == "support-en"


def test_an_inline_event_works_like_a_file(tmp_path: Path) -> None:
    inline = json.loads(Path(ACCEPT_EVENT).read_text())

    (from_file,) = load_cases_file(write_cases(tmp_path, case()))
    (from_inline,) = load_cases_file(write_cases(tmp_path, case(event=inline)))

    assert from_inline.offer == from_file.offer


def test_an_event_file_is_read_relative_to_the_cases_file(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "e.json").write_text(Path(ACCEPT_EVENT).read_text())

    (loaded,) = load_cases_file(write_cases(tmp_path, case(event="events/e.json")))

    assert loaded.offer.worker_id == "bot-7"


def test_the_expected_retry_is_a_duration(tmp_path: Path) -> None:
    expect = {"action": "decline", "retryAfterSeconds": 1.5, "reason": "r"}

    (loaded,) = load_cases_file(write_cases(tmp_path, case(expect=expect)))

    assert loaded.expected == Expected("decline", "r", timedelta(seconds=1.5))


@pytest.mark.parametrize(("seconds", "after"), [(1, timedelta(seconds=1)), (7776000, timedelta(days=90))])
def test_the_expected_retry_may_be_from_1_second_to_90_days(
    tmp_path: Path, seconds: int, after: timedelta
) -> None:
    expect = {"action": "decline", "retryAfterSeconds": seconds, "reason": "r"}

    (loaded,) = load_cases_file(write_cases(tmp_path, case(expect=expect)))

    assert loaded.expected.retry_after == after


NOW = datetime(2024, 3, 5, 10, 15, 2, tzinfo=UTC)
DESCRIBED = {
    "accept": (Accept("r"), Expected("accept", "r"), "accept (r)"),
    "leave": (Leave("r"), Expected("leave", "r"), "leave (r)"),
    "decline for good": (Decline("r", None), Expected("decline", "r"), "decline for good (r)"),
    "decline with retry": (
        Decline("r", NOW + timedelta(seconds=120)),
        Expected("decline", "r", timedelta(seconds=120)),
        "decline, retry after 120 s (r)",
    ),
    "decline with a fractional retry": (
        Decline("r", NOW + timedelta(seconds=1.5)),
        Expected("decline", "r", timedelta(seconds=1.5)),
        "decline, retry after 1.5 s (r)",
    ),
}


@pytest.mark.parametrize(("decision", "expected", "words"), DESCRIBED.values(), ids=DESCRIBED.keys())
def test_a_decision_and_its_expectation_are_described_in_the_same_words(
    decision: Decision, expected: Expected, words: str
) -> None:
    assert describe_decision(decision, NOW) == words
    assert describe_expected(expected) == words


def _two_events() -> list[Any]:
    event = json.loads(Path(ACCEPT_EVENT).read_text())
    return [event[0], {**event[0], "id": "another"}]


def _revoked() -> Any:
    return json.loads((EVENTS / "offer-revoked.eventgrid.json").read_text())


def _offer_with_data(data: object) -> Any:
    event = json.loads(Path(ACCEPT_EVENT).read_text())
    event[0]["data"] = data
    return event


INVALID: dict[str, tuple[dict[str, Any], str | None, str | None, str]] = {
    # id: (document, case, field, the message; {folder} is the cases file's folder)
    "version": ({"version": 2, "cases": [case()]}, None, "version", "expected 1, got 2"),
    "no cases": ({"version": 1, "cases": []}, None, "cases", "expected a non-empty array of cases"),
    "description not text": (
        {"version": 1, "cases": [case()], "description": 5},
        None,
        "description",
        "expected a string",
    ),
    "unknown top field": (
        {"version": 1, "cases": [case()], "policy": "p.json"},
        None,
        "policy",
        "unknown field; expected one of $schema, cases, description, version",
    ),
    "case not an object": ({"version": 1, "cases": ["c"]}, "#1", None, "expected a JSON object"),
    "case without name": (
        {"version": 1, "cases": [{"event": ACCEPT_EVENT}]},
        "#1",
        "name",
        "every case needs a name",
    ),
    "case description not text": (
        {"version": 1, "cases": [case(description=["a"])]},
        "c1",
        "description",
        "expected a string",
    ),
    "names repeat": ({"version": 1, "cases": [case(), case()]}, "c1", None, "two cases have this name"),
    "unknown case field": (
        {"version": 1, "cases": [case(expected={})]},
        "c1",
        "expected",
        "unknown field; expected one of data, description, event, expect, name, now",
    ),
    "no event": (
        {"version": 1, "cases": [case(event=None)]},
        "c1",
        "event",
        "expected a file name (relative to the cases file) or the event itself",
    ),
    "missing event file": (
        {"version": 1, "cases": [case(event="nope.json")]},
        "c1",
        "event",
        "cannot read event file '{folder}/nope.json': FileNotFoundError",
    ),
    "event not an envelope": (
        {"version": 1, "cases": [case(event=[1])]},
        "c1",
        "event",
        "event: field '[0]': expected a JSON object, got a number",
    ),
    "two events": (
        {"version": 1, "cases": [case(event=_two_events())]},
        "c1",
        "event",
        "expected exactly one event, found 2",
    ),
    "not an offer": (
        {"version": 1, "cases": [case(event=_revoked())]},
        "c1",
        "event",
        "expected a RouterWorkerOfferIssued event, got 'Microsoft.Communication.RouterWorkerOfferRevoked'",
    ),
    "event invalid after changes": (
        {"version": 1, "cases": [case(data={"offerId": 7})]},
        "c1",
        "event",
        "not a valid offer: event '7d1f0c2a-5b3e-4f6a-8c9d-0e1f2a3b4c5d': field 'data.offerId': "
        "expected a string, got a number",
    ),
    "data not an object": (
        {"version": 1, "cases": [case(data=[1])]},
        "c1",
        "data",
        "expected an object of event data fields to replace",
    ),
    "event data not an object": (
        {"version": 1, "cases": [case(event=_offer_with_data([1]), data={"workerId": "w"})]},
        "c1",
        "data",
        "the event's data is not an object, so it cannot be changed",
    ),
    "bad now": (
        {"version": 1, "cases": [case(now="yesterday")]},
        "c1",
        "now",
        "'yesterday' is not an ISO 8601 date-time",
    ),
    "now not text": (
        {"version": 1, "cases": [case(now=1709633702)]},
        "c1",
        "now",
        "expected an ISO 8601 date-time string",
    ),
    "expect missing": (
        {"version": 1, "cases": [case(expect=None)]},
        "c1",
        "expect",
        "expected a JSON object",
    ),
    "expect without reason": (
        {"version": 1, "cases": [case(expect={"action": "accept"})]},
        "c1",
        "expect.reason",
        "expected the reason: the matching rule's name, or 'default'",
    ),
    "unknown action": (
        {"version": 1, "cases": [case(expect={"action": "ignore", "reason": "r"})]},
        "c1",
        "expect.action",
        'expected "accept", "decline" or "leave", got \'ignore\'',
    ),
    "accept with a retry": (
        {"version": 1, "cases": [case(expect={"action": "accept", "reason": "r", "retry": "never"})]},
        "c1",
        "expect.retry",
        "unknown field; expected one of action, reason",
    ),
    "decline unspecified": (
        {"version": 1, "cases": [case(expect={"action": "decline", "reason": "r"})]},
        "c1",
        "expect",
        'a decline expects either "retryAfterSeconds": N or "retry": "never"',
    ),
    "decline retry sometimes": (
        {"version": 1, "cases": [case(expect={"action": "decline", "reason": "r", "retry": "sometimes"})]},
        "c1",
        "expect.retry",
        'the only value is "never"',
    ),
    "decline zero seconds": (
        {"version": 1, "cases": [case(expect={"action": "decline", "reason": "r", "retryAfterSeconds": 0})]},
        "c1",
        "expect.retryAfterSeconds",
        "must be between 1 and 7776000",
    ),
    "decline over 90 days": (
        {
            "version": 1,
            "cases": [case(expect={"action": "decline", "reason": "r", "retryAfterSeconds": 7776001})],
        },
        "c1",
        "expect.retryAfterSeconds",
        "must be between 1 and 7776000",
    ),
    "decline seconds as text": (
        {
            "version": 1,
            "cases": [case(expect={"action": "decline", "reason": "r", "retryAfterSeconds": "90"})],
        },
        "c1",
        "expect.retryAfterSeconds",
        "expected a number",
    ),
    "decline seconds as a boolean": (
        {
            "version": 1,
            "cases": [case(expect={"action": "decline", "reason": "r", "retryAfterSeconds": True})],
        },
        "c1",
        "expect.retryAfterSeconds",
        "expected a number",
    ),
}


@pytest.mark.parametrize(("document", "case_name", "field", "message"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_cases_document_says_what_is_wrong_naming_the_case_and_field(
    tmp_path: Path, document: dict[str, Any], case_name: str | None, field: str | None, message: str
) -> None:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(InvalidCasesError) as caught:
        load_cases_file(path)

    assert (caught.value.case, caught.value.field) == (case_name, field)
    assert caught.value.message == message.format(folder=tmp_path)


NOT_CLEAN_JSON = {
    "truncated": (
        "{",
        " is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ),
    "duplicate-key": (
        '{"version": 1, "version": 1, "cases": []}',
        ": key 'version' appears twice in the same object",
    ),
    "nan": ('{"version": 1, "cases": [{"name": "c", "now": NaN}]}', ": NaN is not a JSON number"),
}


@pytest.mark.parametrize(("text", "problem"), NOT_CLEAN_JSON.values(), ids=NOT_CLEAN_JSON.keys())
def test_a_cases_file_that_is_not_clean_json_is_refused_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "cases.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(InvalidCasesError) as caught:
        load_cases_file(path)

    assert (caught.value.case, caught.value.field) == (None, None)
    assert caught.value.message == f"cases file {str(path)!r}{problem}"


@pytest.mark.parametrize(("text", "problem"), NOT_CLEAN_JSON.values(), ids=NOT_CLEAN_JSON.keys())
def test_an_event_file_that_is_not_clean_json_is_the_cases_event_error_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "event.json").write_text(text, encoding="utf-8")

    with pytest.raises(InvalidCasesError) as caught:
        load_cases_file(write_cases(tmp_path, case(event="event.json")))

    assert (caught.value.case, caught.value.field) == ("c1", "event")
    assert caught.value.message == f"event file {str(tmp_path / 'event.json')!r}{problem}"


def test_a_missing_cases_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidCasesError, match=r"cannot read cases file .*nope\.json"):
        load_cases_file(tmp_path / "nope.json")


def test_an_offer_without_an_offered_at_time_needs_a_given_time(tmp_path: Path) -> None:
    event = json.loads(Path(ACCEPT_EVENT).read_text())
    del event[0]["data"]["offeredOn"]

    with pytest.raises(InvalidCasesError) as caught:
        load_cases_file(write_cases(tmp_path, case(event=event)))
    assert (caught.value.field, caught.value.message) == (
        "now",
        "the event has no offered-at time: give the evaluation time",
    )

    (loaded,) = load_cases_file(write_cases(tmp_path, case(event=event, now="2024-03-05T10:15:03Z")))
    assert loaded.now == datetime(2024, 3, 5, 10, 15, 3, tzinfo=UTC)


def test_check_cases_keeps_the_rules_tried_for_each_case(tmp_path: Path) -> None:
    (loaded,) = load_cases_file(
        write_cases(tmp_path, case(event=str(EVENTS / "decline-retry.cloudevents.json")))
    )

    (result,) = check_cases(POLICY, (loaded,))

    assert [(s.rule.name, s.failed is None) for s in result.steps] == [
        ("requires-human", False),
        ("vip-needs-senior", True),
    ]
