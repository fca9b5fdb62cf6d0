"""Policy test cases: the document is validated naming the case and field, and a case passes only when the
policy's decision and reason are exactly the expected ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offer_handlers.errors import InvalidCasesError
from offer_handlers.policy_cases import Expected, check_cases, load_cases_file
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


def _two_events() -> list[Any]:
    event = json.loads(Path(ACCEPT_EVENT).read_text())
    return [event[0], {**event[0], "id": "another"}]


def _revoked() -> Any:
    return json.loads((EVENTS / "offer-revoked.eventgrid.json").read_text())


INVALID: dict[str, tuple[dict[str, Any], str | None, str | None, str]] = {
    # id: (document, case, field, part of the message)
    "version": ({"version": 2, "cases": [case()]}, None, "version", "expected 1"),
    "no cases": ({"version": 1, "cases": []}, None, "cases", "non-empty array"),
    "unknown top field": (
        {"version": 1, "cases": [case()], "policy": "p.json"},
        None,
        "policy",
        "unknown field",
    ),
    "case not an object": ({"version": 1, "cases": ["c"]}, "#1", None, "expected a JSON object"),
    "case without name": ({"version": 1, "cases": [{"event": ACCEPT_EVENT}]}, "#1", "name", "needs a name"),
    "names repeat": ({"version": 1, "cases": [case(), case()]}, "c1", None, "two cases have this name"),
    "unknown case field": ({"version": 1, "cases": [case(expected={})]}, "c1", "expected", "unknown field"),
    "no event": ({"version": 1, "cases": [case(event=None)]}, "c1", "event", "a file name"),
    "missing event file": ({"version": 1, "cases": [case(event="nope.json")]}, "c1", "event", "cannot read"),
    "two events": (
        {"version": 1, "cases": [case(event=_two_events())]},
        "c1",
        "event",
        "exactly one event, found 2",
    ),
    "not an offer": (
        {"version": 1, "cases": [case(event=_revoked())]},
        "c1",
        "event",
        "RouterWorkerOfferIssued",
    ),
    "event invalid after changes": (
        {"version": 1, "cases": [case(data={"offerId": 7})]},
        "c1",
        "event",
        "not a valid offer",
    ),
    "data not an object": ({"version": 1, "cases": [case(data=[1])]}, "c1", "data", "expected an object"),
    "bad now": ({"version": 1, "cases": [case(now="yesterday")]}, "c1", "now", "ISO 8601"),
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
        "the reason",
    ),
    "unknown action": (
        {"version": 1, "cases": [case(expect={"action": "ignore", "reason": "r"})]},
        "c1",
        "expect.action",
        "'ignore'",
    ),
    "accept with a retry": (
        {"version": 1, "cases": [case(expect={"action": "accept", "reason": "r", "retry": "never"})]},
        "c1",
        "expect.retry",
        "unknown field",
    ),
    "decline unspecified": (
        {"version": 1, "cases": [case(expect={"action": "decline", "reason": "r"})]},
        "c1",
        "expect",
        "either",
    ),
    "decline retry sometimes": (
        {"version": 1, "cases": [case(expect={"action": "decline", "reason": "r", "retry": "sometimes"})]},
        "c1",
        "expect.retry",
        '"never"',
    ),
    "decline zero seconds": (
        {"version": 1, "cases": [case(expect={"action": "decline", "reason": "r", "retryAfterSeconds": 0})]},
        "c1",
        "expect.retryAfterSeconds",
        "between 1 and",
    ),
}


@pytest.mark.parametrize(("document", "case_name", "field", "message"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_cases_document_names_the_case_and_field(
    tmp_path: Path, document: dict[str, Any], case_name: str | None, field: str | None, message: str
) -> None:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(InvalidCasesError) as caught:
        load_cases_file(path)

    assert (caught.value.case, caught.value.field) == (case_name, field)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"version": 1, "version": 1, "cases": []}', "'version' appears twice"),
        ('{"version": 1, "cases": [{"name": "c", "now": NaN}]}', "NaN is not a JSON number"),
    ],
    ids=["truncated", "duplicate-key", "nan"],
)
def test_a_cases_file_that_is_not_clean_json_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cases.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(InvalidCasesError, match=message):
        load_cases_file(path)


def test_a_missing_cases_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidCasesError, match=r"cannot read cases file .*nope\.json"):
        load_cases_file(tmp_path / "nope.json")


def test_an_offer_without_an_offered_at_time_needs_a_given_time(tmp_path: Path) -> None:
    event = json.loads(Path(ACCEPT_EVENT).read_text())
    del event[0]["data"]["offeredOn"]

    with pytest.raises(InvalidCasesError, match="no offered-at time") as caught:
        load_cases_file(write_cases(tmp_path, case(event=event)))
    assert caught.value.field == "now"

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
