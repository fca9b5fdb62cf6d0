"""Loading the offer policy: JSON text or a file, validated into the frozen model of ``policy.py``.

Every validation error is an ``InvalidPolicyError`` naming the rule and the field's path. The format
is documented in README.md ("The policy format") and shown in full by examples/policy.json.
"""

from __future__ import annotations

import math
from datetime import time, timedelta
from pathlib import Path
from typing import Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from offer_handlers.errors import InvalidPolicyError
from offer_handlers.json_document import ErrorFactory, JsonObject, parse_json_text
from offer_handlers.policy import (
    POLICY_VERSION,
    AcceptAction,
    Action,
    Condition,
    DeclineAction,
    LabelSelector,
    LabelSource,
    LeaveAction,
    MinTimeLeft,
    OfferAttribute,
    OneOf,
    Operator,
    Policy,
    PriorityRange,
    Rule,
    TimeWindow,
)

__all__ = ["load_policy_file", "load_policy_text", "parse_policy"]

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


def load_policy_text(text: str) -> Policy:
    """Parse and validate a policy from JSON text (e.g. the OFFER_POLICY setting)."""
    return parse_policy(parse_json_text(text, _policy_error(None)))


def load_policy_file(path: Path) -> Policy:
    """Read, parse and validate a policy file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidPolicyError(f"cannot read {str(path)!r}: {err.__class__.__name__}: {err}") from None
    return load_policy_text(text)


def _policy_error(rule: str | None) -> ErrorFactory:
    """The policy's error for a field of ``rule`` (``None``: outside any rule)."""

    def error(message: str, field: str | None) -> InvalidPolicyError:
        return InvalidPolicyError(message, rule=rule, field=field)

    return error


def parse_policy(document: object) -> Policy:
    """Validate a decoded policy document and build the frozen ``Policy``."""
    top = _PolicyObject(document, error=_policy_error(None))
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
    default = _parse_action(top.child("default"))
    return Policy(rules=tuple(rules), default=default)


def _parse_rule(raw: object, index: int) -> Rule:
    label = f"#{index + 1}"
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
        label = raw["name"]
    rule = _PolicyObject(raw, error=_policy_error(label))
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


def _parse_conditions(when: _PolicyObject) -> tuple[Condition, ...]:
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


def _parse_priority(obj: _PolicyObject) -> PriorityRange:
    obj.only({"min", "max"})
    minimum = obj.optional_int("min")
    maximum = obj.optional_int("max")
    if minimum is None and maximum is None:
        obj.fail(None, 'give "min", "max" or both')
    if minimum is not None and maximum is not None and minimum > maximum:
        obj.fail("min", f"min ({minimum}) is greater than max ({maximum})")
    return PriorityRange(minimum, maximum)


def _parse_selectors(when: _PolicyObject, source: LabelSource) -> list[LabelSelector]:
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


def _parse_time_window(obj: _PolicyObject) -> TimeWindow:
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


def _parse_action(obj: _PolicyObject) -> Action:
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


class _PolicyObject(JsonObject):
    """A JSON object inside the policy, with the typed reads its fields need."""

    __slots__ = ()

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
            # .15g: whole numbers in full (7776000, not 7.776e+06), fractions without float noise.
            low = f"{minimum:.15g}"
            bounds = f"at least {low}" if maximum is None else f"between {low} and {maximum:.15g}"
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
