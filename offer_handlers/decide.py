"""The decision: a pure function of the offer, the policy and the time it is given.

No I/O, no clock read, no environment read: ``now`` is passed in. Decisions are a small closed
set of frozen types, each carrying its reason (the matching rule's name, or the default's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol, assert_never

from offer_handlers.compiled_conditions import compile_condition
from offer_handlers.events import Offer
from offer_handlers.policy import AcceptAction, Action, Condition, DeclineAction, LeaveAction, Policy

__all__ = [
    "Accept",
    "Decider",
    "Decision",
    "Decline",
    "Leave",
    "decide",
    "holds",
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

    def __call__(self, offer: Offer, policy: Policy, /, *, now: datetime) -> Decision:
        """Decide ``offer`` by ``policy`` at ``now`` (aware)."""


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
