"""The offer policy's model: ordered rules of conditions and an action, and a default action.

The first rule whose conditions all hold wins, else the default. The values are frozen;
``policy_document`` validates them from JSON, and ``compiled_conditions`` turns each condition into a
predicate when its rule is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from offer_handlers.events import LabelValue, Offer

__all__ = [
    "NO_POLICY",
    "POLICY_VERSION",
    "AcceptAction",
    "Action",
    "Condition",
    "DeclineAction",
    "LabelSelector",
    "LabelSource",
    "LeaveAction",
    "MinTimeLeft",
    "OfferAttribute",
    "OneOf",
    "Operator",
    "Policy",
    "Predicate",
    "PriorityRange",
    "Rule",
    "TimeWindow",
]

POLICY_VERSION: Final = 1

type Operator = Literal[
    "equal",
    "notEqual",
    "lessThan",
    "lessThanOrEqual",
    "greaterThan",
    "greaterThanOrEqual",
    "present",
    "absent",
]
type LabelSource = Literal["jobLabels", "workerLabels", "jobTags"]
type OfferAttribute = Literal["queue_id", "channel_id", "worker_id"]


# --- conditions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OneOf:
    """The offer's queue, channel or worker id is one of ``values``."""

    attribute: OfferAttribute
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class PriorityRange:
    """The job priority lies in ``[minimum, maximum]`` (either end open when ``None``)."""

    minimum: int | None
    maximum: int | None


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A Job Router-style selector on job labels, worker labels or job tags, plus present/absent."""

    source: LabelSource
    key: str
    operator: Operator
    value: LabelValue | None = None


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A weekly window in a named IANA time zone; ``end`` of ``None`` means midnight (24:00)."""

    zone: ZoneInfo
    days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    start: time
    end: time | None


@dataclass(frozen=True, slots=True)
class MinTimeLeft:
    """At least ``seconds`` remain before the offer expires."""

    seconds: float


type Condition = OneOf | PriorityRange | LabelSelector | TimeWindow | MinTimeLeft
# Whether a condition holds for the offer at the time given (aware); built by
# ``compiled_conditions.compile_condition``.
type Predicate = Callable[[Offer, datetime], bool]


# --- actions, rules, policy -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptAction:
    """Accept the offer."""


@dataclass(frozen=True, slots=True)
class DeclineAction:
    """Decline; ``retry_after`` re-offers after that long, ``None`` declines for good."""

    retry_after: timedelta | None


@dataclass(frozen=True, slots=True)
class LeaveAction:
    """Make no call: someone else (a person, another app) answers the offer."""


type Action = AcceptAction | DeclineAction | LeaveAction


@dataclass(frozen=True, slots=True)
class Rule:
    """A named rule: when every condition holds, ``action`` is taken and ``name`` is the reason."""

    name: str
    conditions: tuple[Condition, ...]
    action: Action
    # ``conditions`` compiled, one predicate each in the same order (derived: not compared or shown).
    predicates: tuple[Predicate, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Imported here: the compiler matches on the condition types defined above (a cycle otherwise).
        from offer_handlers.compiled_conditions import compile_condition

        object.__setattr__(self, "predicates", tuple(compile_condition(c) for c in self.conditions))


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy. ``default_reason`` is the reason given when no rule matches."""

    rules: tuple[Rule, ...]
    default: Action
    default_reason: str = "default"
    version: int = POLICY_VERSION


# With no policy configured, every offer is accepted (and the decision log says why).
NO_POLICY: Final = Policy(rules=(), default=AcceptAction(), default_reason="no-policy")
