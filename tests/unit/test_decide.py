"""decide(): pure, first match wins, then the default; every condition and action, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offer_handlers.decide import Accept, Decline, Leave, decide, holds
from offer_handlers.events import Offer
from offer_handlers.explain import describe, trace
from offer_handlers.policy import NO_POLICY
from offer_handlers.policy_document import load_policy_file, parse_policy
from tests.fixtures import EXAMPLES_DIR

# Tuesday 5 March 2024, 10:15:02 UTC (London is on UTC in March; New York is UTC-5).
NOW = datetime(2024, 3, 5, 10, 15, 2, tzinfo=UTC)


def offer(**changes: Any) -> Offer:
    fields: dict[str, Any] = {
        "event_id": "e1",
        "offer_id": "o1",
        "worker_id": "w1",
        "job_id": "j1",
        "expires_at": NOW + timedelta(seconds=60),
        "offered_at": NOW,
        "queue_id": "q1",
        "channel_id": "voice",
        "channel_reference": "ref",
        "job_priority": 5,
        "job_labels": {"vip": True, "language": "en", "minutes": 4.5, "count": 3},
        "job_tags": {"crm": "case-1"},
        "worker_labels": {"level": 2, "kind": "bot", "certified": False},
        "worker_tags": {},
    }
    fields.update(changes)
    return Offer(**fields)


def when(**conditions: Any) -> Any:
    """The single condition that a one-rule policy with ``conditions`` compiles to."""
    policy = parse_policy(
        {
            "version": 1,
            "rules": [{"name": "r", "when": conditions, "then": {"action": "accept"}}],
            "default": {"action": "leave"},
        }
    )
    (condition,) = policy.rules[0].conditions
    return condition


def sel(source: str, key: str, operator: str, value: Any = None) -> Any:
    selector: dict[str, Any] = {"key": key, "labelOperator": operator}
    if value is not None:
        selector["value"] = value
    return when(**{source: [selector]})


CONDITIONS: list[tuple[str, Any, Offer, datetime, bool]] = [
    ("queue-in-list", when(queues=["q0", "q1"]), offer(), NOW, True),
    ("queue-not-in-list", when(queues=["q0"]), offer(), NOW, False),
    ("queue-missing", when(queues=["q1"]), offer(queue_id=None), NOW, False),
    ("channel-in-list", when(channels=["voice"]), offer(), NOW, True),
    ("channel-not-in-list", when(channels=["chat"]), offer(), NOW, False),
    ("worker-in-list", when(workers=["w1", "w2"]), offer(), NOW, True),
    ("worker-not-in-list", when(workers=["w2"]), offer(), NOW, False),
    ("priority-inside", when(priority={"min": 1, "max": 5}), offer(), NOW, True),
    ("priority-below-min", when(priority={"min": 6}), offer(), NOW, False),
    ("priority-above-max", when(priority={"max": 4}), offer(), NOW, False),
    ("priority-open-max", when(priority={"min": 5}), offer(), NOW, True),
    ("priority-missing", when(priority={"min": 0}), offer(job_priority=None), NOW, False),
    ("priority-at-min", when(priority={"min": 5, "max": 9}), offer(), NOW, True),
    ("priority-at-max", when(priority={"min": 1, "max": 5}), offer(), NOW, True),
    ("priority-just-above-max", when(priority={"min": 1, "max": 4}), offer(), NOW, False),
    ("priority-just-below-min", when(priority={"min": 6, "max": 9}), offer(), NOW, False),
    ("priority-min-equals-max", when(priority={"min": 5, "max": 5}), offer(), NOW, True),
    ("priority-min-equals-max-other", when(priority={"min": 4, "max": 4}), offer(), NOW, False),
    ("priority-min-only-at-bound", when(priority={"min": 5}), offer(), NOW, True),
    ("priority-min-only-below", when(priority={"min": 6}), offer(job_priority=-3), NOW, False),
    ("priority-max-only-at-bound", when(priority={"max": 5}), offer(), NOW, True),
    ("priority-max-only-below", when(priority={"max": 5}), offer(job_priority=-100), NOW, True),
    ("priority-max-only-above", when(priority={"max": 5}), offer(job_priority=6), NOW, False),
    ("priority-max-only-missing", when(priority={"max": 5}), offer(job_priority=None), NOW, False),
    ("priority-both-missing", when(priority={"min": 1, "max": 5}), offer(job_priority=None), NOW, False),
    ("job-label-equal-bool", sel("jobLabels", "vip", "equal", True), offer(), NOW, True),
    ("job-label-equal-bool-is-not-1", sel("jobLabels", "vip", "equal", 1), offer(), NOW, False),
    ("job-label-equal-number-int-float", sel("jobLabels", "count", "equal", 3.0), offer(), NOW, True),
    ("job-label-equal-string", sel("jobLabels", "language", "equal", "en"), offer(), NOW, True),
    ("job-label-equal-string-case", sel("jobLabels", "language", "equal", "EN"), offer(), NOW, False),
    ("job-label-equal-missing", sel("jobLabels", "nope", "equal", "en"), offer(), NOW, False),
    ("job-label-not-equal", sel("jobLabels", "language", "notEqual", "fr"), offer(), NOW, True),
    ("job-label-not-equal-same", sel("jobLabels", "language", "notEqual", "en"), offer(), NOW, False),
    ("job-label-not-equal-missing", sel("jobLabels", "nope", "notEqual", "fr"), offer(), NOW, False),
    ("job-label-less-than", sel("jobLabels", "minutes", "lessThan", 5), offer(), NOW, True),
    ("job-label-less-than-equal-bound", sel("jobLabels", "minutes", "lessThan", 4.5), offer(), NOW, False),
    ("job-label-less-or-equal", sel("jobLabels", "minutes", "lessThanOrEqual", 4.5), offer(), NOW, True),
    ("float-label-equal-float", sel("jobLabels", "minutes", "equal", 4.5), offer(), NOW, True),
    ("float-label-not-equal-float", sel("jobLabels", "minutes", "notEqual", 4.5), offer(), NOW, False),
    ("float-label-greater-than", sel("jobLabels", "minutes", "greaterThan", 4.25), offer(), NOW, True),
    (
        "float-label-greater-or-equal-above",
        sel("jobLabels", "minutes", "greaterThanOrEqual", 5),
        offer(),
        NOW,
        False,
    ),
    ("job-label-greater-than", sel("jobLabels", "count", "greaterThan", 2), offer(), NOW, True),
    ("job-label-greater-than-bound", sel("jobLabels", "count", "greaterThan", 3), offer(), NOW, False),
    ("job-label-greater-or-equal", sel("jobLabels", "count", "greaterThanOrEqual", 3), offer(), NOW, True),
    ("ordering-on-a-string-label", sel("jobLabels", "language", "greaterThan", 1), offer(), NOW, False),
    ("ordering-on-a-bool-label", sel("jobLabels", "vip", "greaterThanOrEqual", 0), offer(), NOW, False),
    ("job-label-present", sel("jobLabels", "vip", "present"), offer(), NOW, True),
    ("job-label-present-missing", sel("jobLabels", "nope", "present"), offer(), NOW, False),
    ("job-label-absent", sel("jobLabels", "nope", "absent"), offer(), NOW, True),
    ("job-label-absent-present", sel("jobLabels", "vip", "absent"), offer(), NOW, False),
    ("false-label-is-present", sel("workerLabels", "certified", "present"), offer(), NOW, True),
    ("worker-label-less-than", sel("workerLabels", "level", "lessThan", 3), offer(), NOW, True),
    ("worker-label-equal", sel("workerLabels", "kind", "equal", "human"), offer(), NOW, False),
    ("job-tag-equal", sel("jobTags", "crm", "equal", "case-1"), offer(), NOW, True),
    ("job-tag-absent", sel("jobTags", "test", "absent"), offer(), NOW, True),
    ("job-tags-are-not-labels", sel("jobTags", "vip", "present"), offer(), NOW, False),
    ("min-left-enough", when(minSecondsLeft=60), offer(), NOW, True),
    ("min-left-too-little", when(minSecondsLeft=61), offer(), NOW, False),
    ("min-left-after-time-passes", when(minSecondsLeft=2), offer(), NOW + timedelta(seconds=59), False),
]

LONDON_OFFICE = {
    "timeZone": "Europe/London",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "from": "09:00",
    "to": "17:00",
}
NY_NIGHT = {"timeZone": "America/New_York", "days": ["fri"], "from": "22:00", "to": "06:00"}
SUNDAY_NIGHT = {"timeZone": "UTC", "days": ["sun"], "from": "22:00", "to": "06:00"}
UNTIL_MIDNIGHT = {"timeZone": "UTC", "days": ["tue"], "from": "20:00", "to": "24:00"}
WINDOWS: list[tuple[str, dict[str, Any], datetime, bool]] = [
    ("inside-office-hours", LONDON_OFFICE, NOW, True),
    ("before-opening", LONDON_OFFICE, datetime(2024, 3, 5, 8, 59, tzinfo=UTC), False),
    ("start-is-inclusive", LONDON_OFFICE, datetime(2024, 3, 5, 9, 0, tzinfo=UTC), True),
    ("end-is-exclusive", LONDON_OFFICE, datetime(2024, 3, 5, 17, 0, tzinfo=UTC), False),
    ("saturday", LONDON_OFFICE, datetime(2024, 3, 9, 10, 0, tzinfo=UTC), False),
    # 1 July: London is on BST (UTC+1), so 08:30 UTC is 09:30 local.
    ("summer-time-shifts-the-window", LONDON_OFFICE, datetime(2024, 7, 1, 8, 30, tzinfo=UTC), True),
    (
        "summer-time-closes-an-hour-earlier-in-utc",
        LONDON_OFFICE,
        datetime(2024, 7, 1, 16, 30, tzinfo=UTC),
        False,
    ),
    # Friday 8 March 2024 23:00 New York = Saturday 04:00 UTC.
    ("overnight-on-its-start-day", NY_NIGHT, datetime(2024, 3, 9, 4, 0, tzinfo=UTC), True),
    # Saturday 05:00 New York (10:00 UTC) still belongs to Friday night.
    ("overnight-after-midnight", NY_NIGHT, datetime(2024, 3, 9, 10, 0, tzinfo=UTC), True),
    # Saturday 07:00 New York.
    ("overnight-ended", NY_NIGHT, datetime(2024, 3, 9, 12, 0, tzinfo=UTC), False),
    # Thursday 23:00 New York: Thursday is not a listed day.
    ("overnight-on-another-day", NY_NIGHT, datetime(2024, 3, 8, 4, 0, tzinfo=UTC), False),
    ("overnight-end-is-exclusive", NY_NIGHT, datetime(2024, 3, 9, 11, 0, tzinfo=UTC), False),
    ("overnight-just-before-end", NY_NIGHT, datetime(2024, 3, 9, 10, 59, tzinfo=UTC), True),
    ("overnight-start-is-inclusive", NY_NIGHT, datetime(2024, 3, 9, 3, 0, tzinfo=UTC), True),
    ("overnight-just-before-start", NY_NIGHT, datetime(2024, 3, 9, 2, 59, tzinfo=UTC), False),
    # Sunday 23:00 UTC, then Monday 05:00 UTC: a Sunday night window wraps into Monday morning.
    ("sunday-night-on-sunday", SUNDAY_NIGHT, datetime(2024, 3, 10, 23, 0, tzinfo=UTC), True),
    ("sunday-night-wraps-into-monday", SUNDAY_NIGHT, datetime(2024, 3, 11, 5, 0, tzinfo=UTC), True),
    ("sunday-night-over-on-monday", SUNDAY_NIGHT, datetime(2024, 3, 11, 6, 0, tzinfo=UTC), False),
    # Monday night is not listed, and Saturday morning does not belong to a Sunday window.
    ("sunday-night-not-monday-night", SUNDAY_NIGHT, datetime(2024, 3, 11, 23, 0, tzinfo=UTC), False),
    ("sunday-night-not-sunday-morning", SUNDAY_NIGHT, datetime(2024, 3, 10, 5, 0, tzinfo=UTC), False),
    ("until-midnight-before-start", UNTIL_MIDNIGHT, datetime(2024, 3, 5, 19, 59, tzinfo=UTC), False),
    ("until-midnight-at-start", UNTIL_MIDNIGHT, datetime(2024, 3, 5, 20, 0, tzinfo=UTC), True),
    ("until-midnight-not-after-midnight", UNTIL_MIDNIGHT, datetime(2024, 3, 6, 0, 0, tzinfo=UTC), False),
    ("until-midnight-other-day", UNTIL_MIDNIGHT, datetime(2024, 3, 6, 21, 0, tzinfo=UTC), False),
    (
        "until-midnight",
        {"timeZone": "UTC", "from": "20:00", "to": "24:00"},
        datetime(2024, 3, 5, 23, 59, tzinfo=UTC),
        True,
    ),
]


@pytest.mark.parametrize(
    ("condition", "the_offer", "now", "expected"),
    [case[1:] for case in CONDITIONS],
    ids=[case[0] for case in CONDITIONS],
)
def test_each_condition_holds_exactly_when_it_should(
    condition: Any, the_offer: Offer, now: datetime, expected: bool
) -> None:
    assert holds(condition, the_offer, now) is expected


@pytest.mark.parametrize(
    ("window", "now", "expected"), [case[1:] for case in WINDOWS], ids=[case[0] for case in WINDOWS]
)
def test_the_weekly_time_window_is_evaluated_in_its_time_zone(
    window: dict[str, Any], now: datetime, expected: bool
) -> None:
    assert holds(when(timeWindow=window), offer(), now) is expected


def policy_of(
    *rules: tuple[str, dict[str, Any], dict[str, Any]], default: dict[str, Any] | None = None
) -> Any:
    return parse_policy(
        {
            "version": 1,
            "rules": [{"name": name, "when": cond, "then": then} for name, cond, then in rules],
            "default": default or {"action": "accept"},
        }
    )


ACTIONS: list[tuple[str, dict[str, Any], Any]] = [
    ("accept", {"action": "accept"}, Accept("r")),
    ("leave", {"action": "leave"}, Leave("r")),
    ("decline-for-good", {"action": "decline", "retry": "never"}, Decline("r", retry_at=None)),
    (
        "decline-with-retry",
        {"action": "decline", "retryAfterSeconds": 90},
        Decline("r", retry_at=NOW + timedelta(seconds=90)),
    ),
]


@pytest.mark.parametrize(("then", "expected"), [c[1:] for c in ACTIONS], ids=[c[0] for c in ACTIONS])
def test_each_action_becomes_its_decision_with_the_rule_name_as_reason(
    then: dict[str, Any], expected: Any
) -> None:
    assert decide(offer(), policy_of(("r", {}, then)), now=NOW) == expected


def test_the_first_matching_rule_wins() -> None:
    policy = policy_of(
        ("not-this-queue", {"queues": ["other"]}, {"action": "leave"}),
        (
            "vip",
            {"jobLabels": [{"key": "vip", "labelOperator": "equal", "value": True}]},
            {"action": "accept"},
        ),
        ("also-matches", {}, {"action": "decline", "retry": "never"}),
    )

    assert decide(offer(), policy, now=NOW) == Accept("vip")


def test_all_conditions_of_a_rule_must_hold() -> None:
    policy = policy_of(("both", {"queues": ["q1"], "channels": ["chat"]}, {"action": "leave"}))

    assert decide(offer(), policy, now=NOW) == Accept("default")


def test_the_default_applies_when_no_rule_matches() -> None:
    policy = policy_of(("x", {"workers": ["nobody"]}, {"action": "accept"}), default={"action": "leave"})

    assert decide(offer(), policy, now=NOW) == Leave("default")


def test_with_no_policy_every_offer_is_accepted() -> None:
    assert decide(offer(), NO_POLICY, now=NOW) == Accept("no-policy")


def test_decide_is_pure_the_same_inputs_give_the_same_decision() -> None:
    policy = load_policy_file(EXAMPLES_DIR / "policy.json")
    the_offer = offer(worker_labels={"kind": "human", "level": 1})

    assert {decide(the_offer, policy, now=NOW) for _ in range(3)} == {
        Decline("vip-needs-senior", retry_at=NOW + timedelta(seconds=120))
    }


def test_trace_stops_at_the_match_and_names_the_failing_conditions() -> None:
    policy = policy_of(
        ("a", {"queues": ["other"]}, {"action": "leave"}),
        ("b", {"channels": ["voice"]}, {"action": "accept"}),
        ("c", {}, {"action": "accept"}),
    )

    steps = trace(offer(), policy, now=NOW)

    assert [(s.rule.name, None if s.failed is None else describe(s.failed)) for s in steps] == [
        ("a", "queue is one of other"),
        ("b", None),
    ]


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        (when(priority={"min": 2}), "job priority in [2, +inf]"),
        (sel("workerLabels", "level", "lessThan", 3), "workerLabels 'level' lessThan 3"),
        (sel("jobTags", "t", "absent"), "jobTags 't' is absent"),
        (when(minSecondsLeft=2.5), "at least 2.5 s left before the offer expires"),
        (when(timeWindow=NY_NIGHT), "local time in America/New_York on fri between 22:00 and 06:00"),
    ],
    ids=["priority", "selector", "absent", "min-left", "window"],
)
def test_describe_reads_like_the_policy(condition: Any, text: str) -> None:
    assert describe(condition) == text
