"""The decision: a pure function of the offer, the policy and the time it is given.

No I/O, no clock read, no environment read: ``now`` is passed in. Decisions are a small closed
set of frozen types, each carrying its reason (the matching rule's name, or the default's).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Final, Protocol, assert_never

from offer_handlers.events import LabelValue, Offer
from offer_handlers.policy import (
    AcceptAction,
    Action,
    Condition,
    DeclineAction,
    LabelSelector,
    LabelSource,
    LeaveAction,
    MinTimeLeft,
    OneOf,
    Policy,
    PriorityRange,
    Rule,
    TimeWindow,
)

__all__ = [
    "Accept",
    "Decider",
    "Decision",
    "Decline",
    "Leave",
    "RuleTrace",
    "decide",
    "describe",
    "holds",
    "trace",
]


@dataclass(frozen=True, slots=True)
class Accept:
    """Accept the offer."""

    reason: str


@dataclass(frozen=True, slots=True)
class Decline:
    """Decline the offer; with ``retry_at`` the job is offered again then, without it never to this worker."""

    reason: str
    retry_at: datetime | None


@dataclass(frozen=True, slots=True)
class Leave:
    """Make no call; someone else answers the offer."""

    reason: str


type Decision = Accept | Decline | Leave


class Decider(Protocol):
    """The signature of ``decide``, which an OFFER_DECIDER plug-in must share."""

    def __call__(self, offer: Offer, policy: Policy, /, *, now: datetime) -> Decision: ...


def decide(offer: Offer, policy: Policy, *, now: datetime) -> Decision:
    """The decision of the first rule whose conditions all hold at ``now`` (aware), else the default's."""
    for rule in policy.rules:
        for condition in rule.conditions:
            if not holds(condition, offer, now):
                break
        else:
            return _decision(rule.action, rule.name, now)
    return _decision(policy.default, policy.default_reason, now)


def _decision(action: Action, reason: str, now: datetime) -> Decision:
    match action:
        case AcceptAction():
            return Accept(reason)
        case DeclineAction(retry_after=retry_after):
            return Decline(reason, retry_at=None if retry_after is None else now + retry_after)
        case LeaveAction():
            return Leave(reason)
        case _:
            assert_never(action)


def holds(condition: Condition, offer: Offer, now: datetime) -> bool:
    """Whether one condition holds for the offer at ``now``."""
    match condition:
        case LabelSelector():  # first: the most common condition (the cases are disjoint types)
            return _selector_holds(condition, offer)
        case OneOf(attribute=attribute, values=values):
            return getattr(offer, attribute) in values
        case PriorityRange(minimum=minimum, maximum=maximum):
            priority = offer.job_priority
            return (
                priority is not None
                and (minimum is None or priority >= minimum)
                and (maximum is None or priority <= maximum)
            )
        case TimeWindow():
            return _in_window(condition, now)
        case MinTimeLeft(seconds=seconds):
            return (offer.expires_at - now).total_seconds() >= seconds
        case _:
            assert_never(condition)


_LABELS: Final[dict[LabelSource, Callable[[Offer], Mapping[str, LabelValue]]]] = {
    "jobLabels": attrgetter("job_labels"),
    "workerLabels": attrgetter("worker_labels"),
    "jobTags": attrgetter("job_tags"),
}
_ORDERINGS: Final[dict[str, Callable[[float, float], bool]]] = {
    "lessThan": operator.lt,
    "lessThanOrEqual": operator.le,
    "greaterThan": operator.gt,
    "greaterThanOrEqual": operator.ge,
}


def _selector_holds(selector: LabelSelector, offer: Offer) -> bool:
    actual = _LABELS[selector.source](offer).get(selector.key)
    kind = selector.operator
    expected = selector.value
    if kind == "equal" and actual is not None and type(actual) is type(expected):
        return actual == expected  # fast path: what _same() answers for two values of one type
    if kind in ("present", "absent"):
        return (actual is not None) == (kind == "present")
    if actual is None:
        # Like Job Router's selectors, a comparison needs the label to exist ("absent" matches missing ones).
        return False
    if kind in ("equal", "notEqual"):
        return _same(actual, expected) == (kind == "equal")
    if isinstance(actual, bool | str) or isinstance(expected, bool | str) or expected is None:
        return False  # ordering compares numbers only
    return _ORDERINGS[kind](actual, expected)


def _same(actual: LabelValue, expected: LabelValue | None) -> bool:
    # True == 1 in Python; in labels a boolean and a number are different values.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return actual == expected


def _in_window(window: TimeWindow, now: datetime) -> bool:
    local = now.astimezone(window.zone)
    clock = local.time()
    day = local.weekday()
    end = window.end
    if end is None or window.start < end:
        return day in window.days and clock >= window.start and (end is None or clock < end)
    # An overnight window (e.g. 22:00-06:00) belongs to the day it starts on.
    return (day in window.days and clock >= window.start) or ((day - 1) % 7 in window.days and clock < end)


# --- explaining (for the explain CLI; still pure) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule fared: ``failed`` is the first condition that did not hold (``None``: it matched)."""

    rule: Rule
    failed: Condition | None


def trace(offer: Offer, policy: Policy, *, now: datetime) -> tuple[RuleTrace, ...]:
    """Evaluate rules in order up to and including the first match, recording why each earlier one failed."""
    traces = []
    for rule in policy.rules:
        failed = next((c for c in rule.conditions if not holds(c, offer, now)), None)
        traces.append(RuleTrace(rule, failed))
        if failed is None:
            break
    return tuple(traces)


def describe(condition: Condition) -> str:
    """A one-line, human-readable form of a condition."""
    match condition:
        case OneOf(attribute=attribute, values=values):
            name = {"queue_id": "queue", "channel_id": "channel", "worker_id": "worker"}[attribute]
            return f"{name} is one of {', '.join(sorted(values))}"
        case PriorityRange(minimum=minimum, maximum=maximum):
            low = "-inf" if minimum is None else str(minimum)
            high = "+inf" if maximum is None else str(maximum)
            return f"job priority in [{low}, {high}]"
        case LabelSelector(source=source, key=key, operator=operator, value=value):
            if operator in ("present", "absent"):
                return f"{source} {key!r} is {operator}"
            return f"{source} {key!r} {operator} {json.dumps(value)}"
        case TimeWindow(zone=zone, days=days, start=start, end=end):
            names = ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in sorted(days))
            until = "24:00" if end is None else end.strftime("%H:%M")
            return f"local time in {zone.key} on {names} between {start.strftime('%H:%M')} and {until}"
        case MinTimeLeft(seconds=seconds):
            return f"at least {seconds:g} s left before the offer expires"
        case _:
            assert_never(condition)
