"""Policy conditions compiled into predicates: pure functions of ``(offer, now)``, built once per rule.

Each predicate is specialised to its condition's kind, operator and value type, so deciding an offer
runs no per-condition dispatch (``Rule.predicates`` holds them, in the conditions' order).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import Final, assert_never

from offer_handlers.events import LabelValue, Offer
from offer_handlers.policy import (
    Condition,
    LabelSelector,
    LabelSource,
    MinTimeLeft,
    OneOf,
    Predicate,
    PriorityRange,
    TimeWindow,
)

__all__ = ["compile_condition"]

# The semantics are README.md's ("The policy format"): a comparison needs the label to exist; "equal"
# and "notEqual" tell booleans from numbers (true != 1) but not ints from floats (3 == 3.0) and compare
# strings exactly; ordering operators compare numbers only, never booleans or strings. Each factory
# below answers exactly what the general ``_selector_holds`` does, for the one value type it is
# specialised to; anything else falls back to ``_selector_holds`` itself.


def compile_condition(condition: Condition) -> Predicate:
    """One condition as a predicate of ``(offer, now)``: whether it holds for the offer at ``now``."""
    match condition:
        case LabelSelector():
            return _compile_selector(condition)
        case OneOf(attribute=attribute, values=values):
            return _one_of(attrgetter(attribute), values)
        case PriorityRange(minimum=minimum, maximum=maximum):
            return _priority_range(minimum, maximum)
        case TimeWindow():
            return _time_window(condition)
        case MinTimeLeft(seconds=seconds):
            return _min_time_left(seconds)
        case _:
            assert_never(condition)


type _Labels = Callable[[Offer], Mapping[str, LabelValue]]

_LABELS: Final[dict[LabelSource, _Labels]] = {
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


def _compile_selector(selector: LabelSelector) -> Predicate:
    labels = _LABELS[selector.source]
    if selector.operator in ("present", "absent"):  # these take no value
        return (_present if selector.operator == "present" else _absent)(labels, selector.key, None)
    factory = _SELECTORS.get((selector.operator, type(selector.value)))
    if factory is None:  # a value of no JSON type (a selector built by hand, not loaded)
        return partial(_selector_holds, selector)
    return factory(labels, selector.key, selector.value)


def _selector_holds(selector: LabelSelector, offer: Offer, now: datetime) -> bool:
    """The general interpretation of a selector; the specialised predicates each answer as this does."""
    actual = _LABELS[selector.source](offer).get(selector.key)
    kind = selector.operator
    expected = selector.value
    if kind in ("present", "absent"):
        return (actual is not None) == (kind == "present")
    if actual is None:
        return False
    if kind in ("equal", "notEqual"):
        return _same(actual, expected) == (kind == "equal")
    if isinstance(actual, bool | str) or isinstance(expected, bool | str) or expected is None:
        return False
    return _ORDERINGS[kind](actual, expected)


def _same(actual: LabelValue, expected: LabelValue | None) -> bool:
    # True == 1 in Python; in labels a boolean and a number are different values.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return actual == expected


type _Factory = Callable[[_Labels, str, LabelValue | None], Predicate]


def _never(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def never(offer: Offer, now: datetime) -> bool:
        return False

    return never


def _present(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def present(offer: Offer, now: datetime) -> bool:
        return labels(offer).get(key) is not None

    return present


def _absent(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def absent(offer: Offer, now: datetime) -> bool:
        return labels(offer).get(key) is None

    return absent


def _equal_str(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def equal_str(offer: Offer, now: datetime) -> bool:
        return labels(offer).get(key) == expected  # only a string equals a string (a missing label: None)

    return equal_str


def _equal_bool(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def equal_bool(offer: Offer, now: datetime) -> bool:
        return labels(offer).get(key) is expected  # True and False are singletons, and 1 is not True

    return equal_bool


def _equal_number(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def equal_number(offer: Offer, now: datetime) -> bool:
        actual = labels(offer).get(key)
        return actual == expected and type(actual) is not bool

    return equal_number


def _not_equal_str(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def not_equal_str(offer: Offer, now: datetime) -> bool:
        actual = labels(offer).get(key)
        return actual is not None and actual != expected

    return not_equal_str


def _not_equal_bool(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def not_equal_bool(offer: Offer, now: datetime) -> bool:
        actual = labels(offer).get(key)
        return actual is not None and actual is not expected

    return not_equal_bool


def _not_equal_number(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
    def not_equal_number(offer: Offer, now: datetime) -> bool:
        actual = labels(offer).get(key)
        return actual is not None and (type(actual) is bool or actual != expected)

    return not_equal_number


def _ordering(
    compare: Callable[[float, float], bool], labels: _Labels, key: str, expected: LabelValue | None
) -> Predicate:
    # Bound to its comparison by partial() in the table below, so this body runs when a selector is
    # compiled, never at import (a mutation test's change to it then takes effect).
    assert isinstance(expected, int | float)  # the table below gives only numbers

    def ordering(offer: Offer, now: datetime) -> bool:
        actual = labels(offer).get(key)
        kind = type(actual)
        if kind is int or kind is float:
            return compare(actual, expected)  # type: ignore[arg-type]
        # Missing, a boolean or a string never compares; anything else as in general.
        return actual is not None and not isinstance(actual, bool | str) and compare(actual, expected)

    return ordering


# (operator, type of the selector's value) -> the predicate factory; present/absent take no value.
_SELECTORS: Final[dict[tuple[str, type], _Factory]] = {
    ("equal", str): _equal_str,
    ("equal", bool): _equal_bool,
    ("equal", int): _equal_number,
    ("equal", float): _equal_number,
    ("equal", type(None)): _never,
    ("notEqual", str): _not_equal_str,
    ("notEqual", bool): _not_equal_bool,
    ("notEqual", int): _not_equal_number,
    ("notEqual", float): _not_equal_number,
    ("notEqual", type(None)): _present,  # every existing value differs from no value
    **{
        (kind, number): partial(_ordering, compare)
        for kind, compare in _ORDERINGS.items()
        for number in (int, float)
    },
    **{(kind, other): _never for kind in _ORDERINGS for other in (str, bool, type(None))},
}


def _one_of(attribute: Callable[[Offer], str | None], values: frozenset[str]) -> Predicate:
    def one_of(offer: Offer, now: datetime) -> bool:
        return attribute(offer) in values

    return one_of


def _priority_range(minimum: int | None, maximum: int | None) -> Predicate:
    if minimum is not None and maximum is not None:

        def between(offer: Offer, now: datetime) -> bool:
            priority = offer.job_priority
            return priority is not None and priority >= minimum and priority <= maximum

        return between
    if minimum is not None:

        def at_least(offer: Offer, now: datetime) -> bool:
            priority = offer.job_priority
            return priority is not None and priority >= minimum

        return at_least
    if maximum is not None:

        def at_most(offer: Offer, now: datetime) -> bool:
            priority = offer.job_priority
            return priority is not None and priority <= maximum

        return at_most

    def any_priority(offer: Offer, now: datetime) -> bool:
        return offer.job_priority is not None

    return any_priority


def _time_window(window: TimeWindow) -> Predicate:
    zone, days, start, end = window.zone, window.days, window.start, window.end
    if end is None or start < end:

        def same_day(offer: Offer, now: datetime) -> bool:
            local = now.astimezone(zone)
            clock = local.time()
            return local.weekday() in days and clock >= start and (end is None or clock < end)

        return same_day

    def overnight(offer: Offer, now: datetime) -> bool:
        # An overnight window (e.g. 22:00-06:00) belongs to the day it starts on.
        local = now.astimezone(zone)
        clock = local.time()
        day = local.weekday()
        return (day in days and clock >= start) or ((day - 1) % 7 in days and clock < end)

    return overnight


def _min_time_left(seconds: float) -> Predicate:
    def min_time_left(offer: Offer, now: datetime) -> bool:
        return (offer.expires_at - now).total_seconds() >= seconds

    return min_time_left
