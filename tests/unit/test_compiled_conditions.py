"""Compiled conditions (Rule.predicates) answer exactly as the straightforward interpretation does.

The oracle below is the interpretation ``decide`` used before conditions were compiled (a match on the
condition type, then on the operator), kept here unchanged. Hypothesis draws conditions, offers, times
and whole policies, including hand-built selector values no loaded policy has (``None``, a string or a
boolean under an ordering operator), NaN, infinities, -0.0, big ints and int/float/bool look-alikes.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, assert_never
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offer_handlers.compiled_conditions import compile_condition
from offer_handlers.decide import Accept, Decision, Decline, Leave, decide, holds
from offer_handlers.events import LabelValue, Offer
from offer_handlers.explain import trace
from offer_handlers.policy import (
    AcceptAction,
    Action,
    Condition,
    DeclineAction,
    LabelSelector,
    LeaveAction,
    MinTimeLeft,
    OneOf,
    Operator,
    Policy,
    PriorityRange,
    Rule,
    TimeWindow,
)
from offer_handlers.policy_document import parse_policy

# --- the oracle: the uncompiled interpretation ----------------------------------------------------

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "lessThan": operator.lt,
    "lessThanOrEqual": operator.le,
    "greaterThan": operator.gt,
    "greaterThanOrEqual": operator.ge,
}


def oracle_holds(condition: Condition, offer: Offer, now: datetime) -> bool:
    match condition:
        case OneOf(attribute=attribute, values=values):
            return getattr(offer, attribute) in values
        case PriorityRange(minimum=minimum, maximum=maximum):
            priority = offer.job_priority
            return (
                priority is not None
                and (minimum is None or priority >= minimum)
                and (maximum is None or priority <= maximum)
            )
        case LabelSelector():
            return _oracle_selector(condition, offer)
        case TimeWindow():
            return _oracle_window(condition, now)
        case MinTimeLeft(seconds=seconds):
            return (offer.expires_at - now).total_seconds() >= seconds
        case _:
            assert_never(condition)


def _oracle_selector(selector: LabelSelector, offer: Offer) -> bool:
    labels: Mapping[str, LabelValue] = {
        "jobLabels": offer.job_labels,
        "workerLabels": offer.worker_labels,
        "jobTags": offer.job_tags,
    }[selector.source]
    actual = labels.get(selector.key)
    kind = selector.operator
    expected = selector.value
    if kind in ("present", "absent"):
        return (actual is not None) == (kind == "present")
    if actual is None:
        return False
    if kind in ("equal", "notEqual"):
        return _oracle_same(actual, expected) == (kind == "equal")
    if isinstance(actual, bool | str) or isinstance(expected, bool | str) or expected is None:
        return False
    return _ORDERINGS[kind](actual, expected)


def _oracle_same(actual: LabelValue, expected: LabelValue | None) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return actual == expected


def _oracle_window(window: TimeWindow, now: datetime) -> bool:
    local = now.astimezone(window.zone)
    clock = local.time()
    day = local.weekday()
    end = window.end
    if end is None or window.start < end:
        return day in window.days and clock >= window.start and (end is None or clock < end)
    return (day in window.days and clock >= window.start) or ((day - 1) % 7 in window.days and clock < end)


def oracle_decide(offer: Offer, policy: Policy, now: datetime) -> Decision:
    for rule in policy.rules:
        if all(oracle_holds(c, offer, now) for c in rule.conditions):
            return _oracle_decision(rule.action, rule.name, now)
    return _oracle_decision(policy.default, policy.default_reason, now)


def _oracle_decision(action: Action, reason: str, now: datetime) -> Decision:
    match action:
        case AcceptAction():
            return Accept(reason)
        case DeclineAction(retry_after=retry_after):
            return Decline(reason, retry_at=None if retry_after is None else now + retry_after)
        case LeaveAction():
            return Leave(reason)
        case _:
            assert_never(action)


# --- strategies -----------------------------------------------------------------------------------

KEYS = ("a", "b", "c")
IDS = ("x", "y", "z")
TRICKY: tuple[LabelValue, ...] = (
    True,
    False,
    0,
    1,
    3,
    0.0,
    -0.0,
    1.0,
    3.0,
    0.5,
    2**53 + 1,
    float(2**53),
    math.inf,
    -math.inf,
    math.nan,
    "",
    "1",
    "true",
    "a",
    "A",
)
OPERATORS: tuple[Operator, ...] = (
    "equal",
    "notEqual",
    "lessThan",
    "lessThanOrEqual",
    "greaterThan",
    "greaterThanOrEqual",
    "present",
    "absent",
)


label_values: st.SearchStrategy[LabelValue] = st.one_of(
    st.sampled_from(TRICKY),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5),
    st.text(alphabet="aA1 ", max_size=2),
)
labels = st.dictionaries(st.sampled_from(KEYS), label_values, max_size=3)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def offers(draw: st.DrawFn) -> Offer:
    expires_at = draw(instants)
    return Offer(
        event_id="e",
        offer_id="o",
        worker_id=draw(st.sampled_from(IDS)),
        job_id="j",
        expires_at=expires_at,
        queue_id=draw(st.none() | st.sampled_from(IDS)),
        channel_id=draw(st.none() | st.sampled_from(IDS)),
        job_priority=draw(st.none() | st.integers(-3, 3)),
        job_labels=draw(labels),
        job_tags=draw(labels),
        worker_labels=draw(labels),
        worker_tags=draw(labels),
    )


@st.composite
def times_near(draw: st.DrawFn, offer: Offer) -> datetime:
    """A time a few seconds either side of the offer's expiry (so MinTimeLeft goes both ways), or any."""
    near = offer.expires_at - timedelta(microseconds=draw(st.integers(-10_000_000, 120_000_000)))
    return draw(st.just(near) | instants)


selectors = st.builds(
    LabelSelector,
    source=st.sampled_from(("jobLabels", "workerLabels", "jobTags")),
    key=st.sampled_from(KEYS),
    operator=st.sampled_from(OPERATORS),
    value=st.none() | label_values,
)
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from((0, 1, 30, 59)))


@st.composite
def time_windows(draw: st.DrawFn) -> TimeWindow:
    start = draw(clock_times)
    end = draw(st.none() | clock_times.filter(lambda t: t != start))
    return TimeWindow(
        zone=ZoneInfo(draw(st.sampled_from(("UTC", "Europe/London", "America/New_York", "Asia/Kolkata")))),
        days=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
        start=start,
        end=end,
    )


conditions: st.SearchStrategy[Condition] = st.one_of(
    selectors,
    st.builds(
        OneOf,
        st.sampled_from(("queue_id", "channel_id", "worker_id")),
        st.frozensets(st.sampled_from(IDS), min_size=1),
    ),
    st.builds(PriorityRange, st.none() | st.integers(-3, 3), st.none() | st.integers(-3, 3)),
    time_windows(),
    st.builds(MinTimeLeft, st.sampled_from((0.0, 1.0, 60.0, 59.9999995)) | st.floats(0, 120)),
)
actions: st.SearchStrategy[Action] = st.one_of(
    st.just(AcceptAction()),
    st.just(LeaveAction()),
    st.builds(DeclineAction, st.none() | st.integers(1, 300).map(lambda s: timedelta(seconds=s))),
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    rules = [
        Rule(f"r{i}", tuple(draw(st.lists(conditions, max_size=3))), draw(actions))
        for i in range(draw(st.integers(0, 5)))
    ]
    return Policy(rules=tuple(rules), default=draw(actions))


# --- properties -----------------------------------------------------------------------------------


@given(conditions, offers(), st.data())
def test_a_compiled_condition_holds_exactly_when_the_interpretation_says(
    condition: Condition, offer: Offer, data: st.DataObject
) -> None:
    now = data.draw(times_near(offer))

    assert compile_condition(condition)(offer, now) is oracle_holds(condition, offer, now)


def test_every_operator_agrees_with_the_interpretation_on_every_pair_of_tricky_values() -> None:
    now = datetime(2024, 3, 5, tzinfo=UTC)
    the_offers = [Offer("e", "o", "w", "j", now, job_labels={"k": actual}) for actual in TRICKY]
    the_offers.append(Offer("e", "o", "w", "j", now, job_labels={"other": 1}))  # the label is missing

    disagreements = [
        (kind, expected, the_offer.job_labels)
        for kind in OPERATORS
        for expected in (*TRICKY, None)
        for the_offer in the_offers
        if holds(selector := LabelSelector("jobLabels", "k", kind, expected), the_offer, now)
        is not oracle_holds(selector, the_offer, now)
    ]

    assert disagreements == []


@given(policies(), offers(), st.data())
def test_decide_with_compiled_rules_makes_the_interpretations_decision(
    policy: Policy, offer: Offer, data: st.DataObject
) -> None:
    now = data.draw(times_near(offer))

    assert decide(offer, policy, now=now) == oracle_decide(offer, policy, now)


@given(policies(), offers(), st.data())
def test_trace_names_the_first_condition_the_interpretation_finds_false(
    policy: Policy, offer: Offer, data: st.DataObject
) -> None:
    now = data.draw(times_near(offer))

    for step in trace(offer, policy, now=now):
        first_false = next((c for c in step.rule.conditions if not oracle_holds(c, offer, now)), None)
        assert step.failed == first_false


def test_each_rule_carries_one_predicate_per_condition_and_compares_by_its_conditions_only() -> None:
    document = {
        "version": 1,
        "rules": [
            {
                "name": "r",
                "when": {
                    "queues": ["q"],
                    "jobLabels": [{"key": "k", "labelOperator": "lessThan", "value": 2}],
                },
                "then": {"action": "accept"},
            }
        ],
        "default": {"action": "leave"},
    }
    first, second = parse_policy(document), parse_policy(document)

    assert len(first.rules[0].predicates) == len(first.rules[0].conditions) == 2
    assert first == second
    assert hash(first.rules[0]) == hash(second.rules[0])
    assert "predicates" not in repr(first.rules[0])


# --- selectors built by hand with values of no JSON type fall back to the general interpretation -------


class Level(int):
    """An int subclass (as an IntEnum member is): not one of the JSON types the compiler specialises."""


class Code(str):
    """A str subclass."""


class Ratio(float):
    """A float subclass."""


HAND_BUILT: list[tuple[str, LabelSelector, LabelValue | None, bool]] = [
    ("equal-int-like", LabelSelector("jobLabels", "k", "equal", Level(3)), 3, True),
    ("equal-int-like-float-label", LabelSelector("jobLabels", "k", "equal", Level(3)), 3.0, True),
    ("equal-int-like-differs", LabelSelector("jobLabels", "k", "equal", Level(3)), 4, False),
    ("equal-int-like-is-not-true", LabelSelector("jobLabels", "k", "equal", Level(1)), True, False),
    ("equal-int-like-missing", LabelSelector("jobLabels", "k", "equal", Level(1)), None, False),
    ("not-equal-int-like", LabelSelector("jobLabels", "k", "notEqual", Level(1)), True, True),
    ("not-equal-int-like-same", LabelSelector("jobLabels", "k", "notEqual", Level(2)), 2, False),
    ("not-equal-int-like-missing", LabelSelector("jobLabels", "k", "notEqual", Level(2)), None, False),
    ("equal-str-like", LabelSelector("jobTags", "k", "equal", Code("en")), "en", True),
    ("equal-str-like-case", LabelSelector("jobTags", "k", "equal", Code("en")), "EN", False),
    ("less-than-int-like", LabelSelector("workerLabels", "k", "lessThan", Level(3)), 2, True),
    ("less-than-int-like-bound", LabelSelector("workerLabels", "k", "lessThan", Level(3)), 3, False),
    (
        "less-or-equal-float-like",
        LabelSelector("workerLabels", "k", "lessThanOrEqual", Ratio(2.5)),
        2.5,
        True,
    ),
    ("greater-than-float-like", LabelSelector("workerLabels", "k", "greaterThan", Ratio(2.5)), 3, True),
    (
        "greater-or-equal-int-like",
        LabelSelector("workerLabels", "k", "greaterThanOrEqual", Level(3)),
        2,
        False,
    ),
    ("ordering-on-a-bool-label", LabelSelector("jobLabels", "k", "greaterThan", Level(0)), True, False),
    ("ordering-on-a-string-label", LabelSelector("jobLabels", "k", "lessThan", Level(9)), "1", False),
    ("ordering-against-a-str-like", LabelSelector("jobLabels", "k", "lessThan", Code("9")), 1, False),
    ("ordering-missing", LabelSelector("jobLabels", "k", "lessThan", Level(9)), None, False),
]


@pytest.mark.parametrize(
    ("selector", "actual", "expected"), [c[1:] for c in HAND_BUILT], ids=[c[0] for c in HAND_BUILT]
)
def test_a_hand_built_selector_value_of_no_json_type_is_read_as_its_json_type(
    selector: LabelSelector, actual: LabelValue | None, expected: bool
) -> None:
    labels = {} if actual is None else {"k": actual}
    offer = Offer("e", "o", "w", "j", datetime(2024, 3, 5, tzinfo=UTC), job_labels=labels, job_tags=labels)
    offer = replace(offer, worker_labels=labels)

    assert holds(selector, offer, offer.expires_at) is expected
    assert oracle_holds(selector, offer, offer.expires_at) is expected
