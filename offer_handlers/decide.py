"""The decision: a pure function of the offer, the policy and the time it is given.

No I/O, no clock read, no environment read: ``now`` is passed in. Decisions are a small closed
set of frozen types, each carrying its reason (the matching rule's name, or the default's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol, assert_never

from offer_handlers.events import Offer
from offer_handlers.policy import (
    AcceptAction,
    Action,
    Condition,
    DeclineAction,
    LabelSelector,
    LeaveAction,
    MinTimeLeft,
    OneOf,
    Policy,
    PriorityRange,
    Rule,
    TimeWindow,
    compile_condition,
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
        for predicate in rule.predicates:  # the conditions, compiled when the rule was built
            if not predicate(offer, now):
                break
        else:
            return _decision(rule.action, rule.name, now)
    return _decision(policy.default, policy.default_reason, now)


def _decision(action: Action, reason: str, now: datetime) -> Decision:
    match action:
        case AcceptAction():
            return _accept(reason)
        case DeclineAction(retry_after=retry_after):
            if retry_after is None:
                return _decline_for_good(reason)
            return Decline(reason, retry_at=now + retry_after)
        case LeaveAction():
            return _leave(reason)
        case _:
            assert_never(action)


# Decisions that do not depend on the time are shared (they are frozen): building a frozen dataclass
# costs about as much as evaluating a rule. Keyed by the reason, i.e. a rule name; bounded.
@lru_cache(maxsize=1024)
def _accept(reason: str) -> Accept:
    return Accept(reason)


@lru_cache(maxsize=1024)
def _leave(reason: str) -> Leave:
    return Leave(reason)


@lru_cache(maxsize=1024)
def _decline_for_good(reason: str) -> Decline:
    return Decline(reason, retry_at=None)


def holds(condition: Condition, offer: Offer, now: datetime) -> bool:
    """Whether one condition holds for the offer at ``now`` (compiles it; rules carry theirs compiled)."""
    return compile_condition(condition)(offer, now)


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
        failed = next(
            (c for c, p in zip(rule.conditions, rule.predicates, strict=True) if not p(offer, now)), None
        )
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
