"""The offer policy: a versioned JSON document, validated into frozen rules when it is loaded.

Ordered rules, the first whose conditions all hold wins, else the default action. Every validation
error names the rule and the field (``InvalidPolicyError``). The format is documented in
README.md ("The policy format") and shown in full by examples/policy.json.

Each rule also carries its conditions compiled, once when the rule is built, into small predicates
specialised per condition, operator and value type (``Rule.predicates``), so deciding an offer runs no
per-condition dispatch. The predicates are pure functions of the offer and the time they are given.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Final, Literal, NoReturn, assert_never, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from offer_handlers.errors import InvalidPolicyError
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
    "OneOf",
    "Operator",
    "Policy",
    "Predicate",
    "PriorityRange",
    "Rule",
    "TimeWindow",
    "compile_condition",
    "load_policy_file",
    "load_policy_text",
    "parse_policy",
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

_COMPARISONS: Final[frozenset[str]] = frozenset(
    {"lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"}
)
_OPERATORS: Final[tuple[str, ...]] = ("equal", "notEqual", *sorted(_COMPARISONS), "present", "absent")
_ID_CONDITIONS: Final[tuple[tuple[str, OfferAttribute], ...]] = (
    ("queues", "queue_id"),
    ("channels", "channel_id"),
    ("workers", "worker_id"),
)
_SOURCES: Final[tuple[LabelSource, ...]] = ("jobLabels", "workerLabels", "jobTags")
_DAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A job lives at most 90 days; a later retry could never happen (and would overflow nothing useful).
_MAX_RETRY_AFTER_SECONDS: Final = 90 * 24 * 3600
_RULE_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_MAX_RULE_NAME: Final = 64


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
# Whether a condition holds for the offer at the time given (aware); built by ``compile_condition``.
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


# --- compiled conditions --------------------------------------------------------------------------
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


def _ordering(compare: Callable[[float, float], bool]) -> _Factory:
    def factory(labels: _Labels, key: str, expected: LabelValue | None) -> Predicate:
        assert isinstance(expected, int | float)  # the table below gives only numbers

        def ordering(offer: Offer, now: datetime) -> bool:
            actual = labels(offer).get(key)
            kind = type(actual)
            if kind is int or kind is float:
                return compare(actual, expected)  # type: ignore[arg-type]
            # Missing, a boolean or a string never compares; anything else as in general.
            return actual is not None and not isinstance(actual, bool | str) and compare(actual, expected)

        return ordering

    return factory


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
    **{(kind, number): _ordering(compare) for kind, compare in _ORDERINGS.items() for number in (int, float)},
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


# --- loading --------------------------------------------------------------------------------------


def load_policy_text(text: str) -> Policy:
    """Parse and validate a policy from JSON text (e.g. the OFFER_POLICY setting)."""
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except InvalidPolicyError:
        raise
    except ValueError as err:
        raise InvalidPolicyError(f"not valid JSON: {err}") from None
    return parse_policy(document)


def load_policy_file(path: Path) -> Policy:
    """Read, parse and validate a policy file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidPolicyError(f"cannot read {str(path)!r}: {err.__class__.__name__}: {err}") from None
    return load_policy_text(text)


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidPolicyError("appears twice in the same object", field=key)
        result[key] = value
    return result


def _no_constants(name: str) -> NoReturn:
    raise InvalidPolicyError(f"{name} is not a JSON number")


def parse_policy(document: object) -> Policy:
    """Validate a decoded policy document and build the frozen ``Policy``."""
    top = _Obj(document, rule=None, path="")
    # "$schema" points editors at offer_handlers/policy.schema.json; it has no meaning here.
    top.only({"$schema", "version", "description", "rules", "default"})
    top.optional_text("$schema")
    version = top.get("version")
    if version is None:
        top.fail("version", f"missing; this handler reads version {POLICY_VERSION}")
    if version != POLICY_VERSION or isinstance(version, bool):
        top.fail("version", f"unsupported version {version!r}; this handler reads version {POLICY_VERSION}")
    top.optional_text("description")

    raw_rules = top.get("rules", [])
    if not isinstance(raw_rules, list):
        top.fail("rules", "expected an array of rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw_rule in enumerate(raw_rules):
        rule = _parse_rule(raw_rule, index)
        if rule.name in seen:
            raise InvalidPolicyError(
                "two rules have this name; names are the decision's reason", rule=rule.name
            )
        seen.add(rule.name)
        rules.append(rule)

    if top.get("default") is None:
        top.fail("default", 'missing: say what to do when no rule matches, e.g. {"action": "accept"}')
    default = _parse_action(_Obj(top.get("default"), rule=None, path="default"))
    return Policy(rules=tuple(rules), default=default)


def _parse_rule(raw: object, index: int) -> Rule:
    label = f"#{index + 1}"
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
        label = raw["name"]
    rule = _Obj(raw, rule=label, path="")
    rule.only({"name", "description", "when", "then"})
    name = rule.get("name")
    if not isinstance(name, str) or not name:
        rule.fail("name", "every rule needs a name (it is the reason the decision log gives)")
    if len(name) > _MAX_RULE_NAME or not set(name) <= _RULE_NAME_CHARS:
        rule.fail(
            "name", f"use at most {_MAX_RULE_NAME} letters, digits, '.', '_' or '-' (it appears in log lines)"
        )
    rule.optional_text("description")
    if rule.get("then") is None:
        rule.fail("then", 'missing: the action to take, e.g. {"action": "accept"}')
    conditions = _parse_conditions(rule.child("when")) if rule.get("when") is not None else ()
    action = _parse_action(rule.child("then"))
    return Rule(name=name, conditions=conditions, action=action)


def _parse_conditions(when: _Obj) -> tuple[Condition, ...]:
    when.only(
        {
            "queues",
            "channels",
            "workers",
            "priority",
            "jobLabels",
            "workerLabels",
            "jobTags",
            "timeWindow",
            "minSecondsLeft",
        }
    )
    conditions: list[Condition] = []
    for key, attribute in _ID_CONDITIONS:
        if when.get(key) is not None:
            conditions.append(OneOf(attribute, when.id_set(key)))
    if when.get("priority") is not None:
        conditions.append(_parse_priority(when.child("priority")))
    for source in _SOURCES:
        if when.get(source) is not None:
            conditions.extend(_parse_selectors(when, source))
    if when.get("timeWindow") is not None:
        conditions.append(_parse_time_window(when.child("timeWindow")))
    if when.get("minSecondsLeft") is not None:
        conditions.append(MinTimeLeft(when.number("minSecondsLeft", minimum=0.0)))
    return tuple(conditions)


def _parse_priority(obj: _Obj) -> PriorityRange:
    obj.only({"min", "max"})
    minimum = obj.optional_int("min")
    maximum = obj.optional_int("max")
    if minimum is None and maximum is None:
        obj.fail(None, 'give "min", "max" or both')
    if minimum is not None and maximum is not None and minimum > maximum:
        obj.fail("min", f"min ({minimum}) is greater than max ({maximum})")
    return PriorityRange(minimum, maximum)


def _parse_selectors(when: _Obj, source: LabelSource) -> list[LabelSelector]:
    raw = when.get(source)
    if not isinstance(raw, list) or not raw:
        when.fail(
            source,
            'expected a non-empty array of selectors like {"key": "vip", "labelOperator": "equal", '
            '"value": true}',
        )
    selectors = []
    for index, _ in enumerate(raw):
        obj = when.item(source, index)
        obj.only({"key", "labelOperator", "value"})
        key = obj.get("key")
        if not isinstance(key, str) or not key:
            obj.fail("key", "expected a non-empty string")
        operator = obj.get("labelOperator")
        if operator not in _OPERATORS:
            obj.fail(
                "labelOperator", f"unknown operator {operator!r}; expected one of {', '.join(_OPERATORS)}"
            )
        value = obj.get("value")
        if operator in ("present", "absent"):
            if value is not None:
                obj.fail("value", f"{operator!r} takes no value")
        elif operator in _COMPARISONS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                obj.fail("value", f"{operator!r} compares numbers; expected a number")
        elif (isinstance(value, float) and not math.isfinite(value)) or not isinstance(
            value, str | int | float | bool
        ):
            obj.fail("value", f"{operator!r} needs a string, number or boolean value")
        selectors.append(LabelSelector(source, key, cast(Operator, operator), value))
    return selectors


def _parse_time_window(obj: _Obj) -> TimeWindow:
    obj.only({"timeZone", "days", "from", "to"})
    zone_name = obj.get("timeZone")
    if not isinstance(zone_name, str) or not zone_name:
        obj.fail("timeZone", 'expected an IANA time zone name such as "Europe/London"')
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        obj.fail("timeZone", f"unknown IANA time zone {zone_name!r}")
    days = frozenset(range(7))
    if obj.get("days") is not None:
        raw_days = obj.get("days")
        if not isinstance(raw_days, list) or not raw_days or not all(d in _DAYS for d in raw_days):
            obj.fail("days", f"expected a non-empty array of {', '.join(_DAYS)}")
        days = frozenset(_DAYS.index(d) for d in raw_days)
    # A missing "from" is the start of the day, a missing "to" its end.
    start = obj.clock_time("from", allow_midnight_end=False) if obj.get("from") is not None else time(0)
    assert start is not None  # only "to" may be "24:00"
    end = obj.clock_time("to", allow_midnight_end=True) if obj.get("to") is not None else None
    if start == end:
        obj.fail("to", '"from" and "to" are equal, so the window is empty')
    return TimeWindow(zone=zone, days=days, start=start, end=end)


def _parse_action(obj: _Obj) -> Action:
    action = obj.get("action")
    match action:
        case "accept":
            obj.only({"action"})
            return AcceptAction()
        case "leave":
            obj.only({"action"})
            return LeaveAction()
        case "decline":
            obj.only({"action", "retryAfterSeconds", "retry"})
            has_after = obj.get("retryAfterSeconds") is not None
            has_never = obj.get("retry") is not None
            if has_after == has_never:
                obj.fail(
                    None,
                    'a decline must say either "retryAfterSeconds": N (the job is offered to this worker '
                    'again after N seconds) or "retry": "never" (it is never offered to this worker again)',
                )
            if has_never:
                if obj.get("retry") != "never":
                    obj.fail("retry", 'the only value is "never"; use "retryAfterSeconds" to retry')
                return DeclineAction(retry_after=None)
            seconds = obj.number("retryAfterSeconds", minimum=1.0, maximum=float(_MAX_RETRY_AFTER_SECONDS))
            return DeclineAction(retry_after=timedelta(seconds=seconds))
        case _:
            obj.fail("action", f'expected "accept", "decline" or "leave", got {action!r}')


class _Obj:
    """A JSON object inside the policy, with typed reads that fail naming the rule and field path."""

    __slots__ = ("_path", "_raw", "_rule")

    def __init__(self, raw: object, *, rule: str | None, path: str) -> None:
        self._rule = rule
        self._path = path
        if not isinstance(raw, dict):
            raise InvalidPolicyError("expected a JSON object", rule=rule, field=path or None)
        self._raw: Mapping[str, object] = raw

    def _field(self, key: str | None) -> str | None:
        if key is None:
            return self._path or None
        return f"{self._path}.{key}" if self._path else key

    def fail(self, key: str | None, message: str) -> NoReturn:
        raise InvalidPolicyError(message, rule=self._rule, field=self._field(key))

    def get(self, key: str, default: object = None) -> object:
        return self._raw.get(key, default)

    def only(self, allowed: set[str]) -> None:
        for key in self._raw:
            if key not in allowed:
                self.fail(key, f"unknown field; expected one of {', '.join(sorted(allowed))}")

    def child(self, key: str) -> _Obj:
        return _Obj(self._raw.get(key), rule=self._rule, path=self._field(key) or key)

    def item(self, key: str, index: int) -> _Obj:
        items = self._raw[key]
        assert isinstance(items, list)
        return _Obj(items[index], rule=self._rule, path=f"{self._field(key)}[{index}]")

    def optional_text(self, key: str) -> None:
        if self.get(key) is not None and not isinstance(self.get(key), str):
            self.fail(key, "expected a string")

    def id_set(self, key: str) -> frozenset[str]:
        raw = self.get(key)
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and v for v in raw):
            self.fail(key, "expected a non-empty array of non-empty strings")
        return frozenset(raw)

    def optional_int(self, key: str) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "expected an integer")
        return value

    def number(self, key: str, *, minimum: float, maximum: float | None = None) -> float:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, "expected a number")
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum:g}" if maximum is None else f"between {minimum:g} and {maximum:g}"
            self.fail(key, f"must be {bounds}")
        return float(value)

    def clock_time(self, key: str, *, allow_midnight_end: bool) -> time | None:
        value = self.get(key)
        if allow_midnight_end and value == "24:00":
            return None
        ok = isinstance(value, str) and len(value) == 5 and value[2] == ":"
        if ok:
            assert isinstance(value, str)
            hours, minutes = value[:2], value[3:]
            # ASCII only: str.isdigit() is also true for other scripts' digits and for superscripts ("²"),
            # which int() reads or refuses.
            ok = value.isascii() and hours.isdigit() and minutes.isdigit()
            ok = ok and int(hours) < 24 and int(minutes) < 60
            if ok:
                return time(int(hours), int(minutes))
        suffix = ' (or "24:00")' if allow_midnight_end else ""
        self.fail(key, f'expected a local time "HH:MM" from "00:00" to "23:59"{suffix}')
