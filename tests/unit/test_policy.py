"""Policy loading: valid documents become frozen rules; invalid ones fail naming the rule and field."""

from __future__ import annotations

import copy
import json
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest

from offer_handlers.errors import InvalidPolicyError
from offer_handlers.policy import (
    NO_POLICY,
    AcceptAction,
    DeclineAction,
    LabelSelector,
    LeaveAction,
    MinTimeLeft,
    OneOf,
    Policy,
    PriorityRange,
    Rule,
    TimeWindow,
)
from offer_handlers.policy_document import load_policy_file, load_policy_text, parse_policy
from tests.fixtures import EXAMPLES_DIR


def doc(*rules: object, default: dict[str, Any] | None = None) -> dict[str, Any]:  # a rule may be invalid
    return {"version": 1, "rules": list(rules), "default": default or {"action": "accept"}}


def rule(
    when: dict[str, Any] | None = None, then: dict[str, Any] | None = None, name: str = "r1"
) -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "then": then or {"action": "accept"}}
    if when is not None:
        result["when"] = when
    return result


def test_the_example_policy_loads_and_uses_every_condition_and_action() -> None:
    policy = load_policy_file(EXAMPLES_DIR / "policy.json")

    conditions = [c for r in policy.rules for c in r.conditions]
    kinds = {type(c) for c in conditions}
    assert kinds == {OneOf, PriorityRange, LabelSelector, TimeWindow, MinTimeLeft}
    assert {c.attribute for c in conditions if isinstance(c, OneOf)} == {
        "queue_id",
        "channel_id",
        "worker_id",
    }
    selectors = [c for c in conditions if isinstance(c, LabelSelector)]
    assert {s.source for s in selectors} == {"jobLabels", "workerLabels", "jobTags"}
    assert {s.operator for s in selectors} == {
        "equal",
        "notEqual",
        "lessThan",
        "lessThanOrEqual",
        "greaterThan",
        "greaterThanOrEqual",
        "present",
        "absent",
    }
    actions = [r.action for r in policy.rules]
    assert AcceptAction() in actions
    assert LeaveAction() in actions
    assert DeclineAction(retry_after=None) in actions
    assert DeclineAction(retry_after=timedelta(seconds=120)) in actions


def test_a_full_rule_becomes_frozen_conditions_in_document_order() -> None:
    policy = parse_policy(
        doc(
            rule(
                {
                    "queues": ["q1", "q2"],
                    "channels": ["voice"],
                    "workers": ["w1"],
                    "priority": {"min": 1, "max": 5},
                    "jobLabels": [{"key": "vip", "labelOperator": "equal", "value": True}],
                    "workerLabels": [{"key": "level", "labelOperator": "greaterThan", "value": 2}],
                    "jobTags": [{"key": "test", "labelOperator": "absent"}],
                    "timeWindow": {
                        "timeZone": "Europe/London",
                        "days": ["mon", "fri"],
                        "from": "09:00",
                        "to": "17:30",
                    },
                    "minSecondsLeft": 3,
                },
                {"action": "decline", "retryAfterSeconds": 90},
                name="everything",
            ),
            default={"action": "leave"},
        )
    )

    (only,) = policy.rules
    assert only.name == "everything"
    assert only.action == DeclineAction(retry_after=timedelta(seconds=90))
    assert only.conditions[:4] == (
        OneOf("queue_id", frozenset({"q1", "q2"})),
        OneOf("channel_id", frozenset({"voice"})),
        OneOf("worker_id", frozenset({"w1"})),
        PriorityRange(1, 5),
    )
    assert only.conditions[4:7] == (
        LabelSelector("jobLabels", "vip", "equal", True),
        LabelSelector("workerLabels", "level", "greaterThan", 2),
        LabelSelector("jobTags", "test", "absent", None),
    )
    window = only.conditions[7]
    assert isinstance(window, TimeWindow)
    assert (window.zone.key, window.days, window.start, window.end) == (
        "Europe/London",
        frozenset({0, 4}),
        time(9, 0),
        time(17, 30),
    )
    assert only.conditions[8] == MinTimeLeft(3.0)
    assert policy.default == LeaveAction()
    with pytest.raises(AttributeError):
        policy.default = AcceptAction()  # type: ignore[misc]


def test_a_rule_without_when_always_matches_and_rules_may_be_omitted() -> None:
    assert parse_policy(doc(rule())).rules == (Rule("r1", (), AcceptAction()),)
    assert parse_policy({"version": 1, "default": {"action": "leave"}}) == Policy(
        rules=(), default=LeaveAction()
    )


def test_time_window_defaults_to_the_whole_day_and_accepts_24_00_as_end() -> None:
    policy = parse_policy(doc(rule({"timeWindow": {"timeZone": "UTC", "to": "24:00"}})))

    window = policy.rules[0].conditions[0]
    assert isinstance(window, TimeWindow)
    assert (window.days, window.start, window.end) == (frozenset(range(7)), time(0), None)


def test_no_policy_accepts_by_default_with_its_own_reason() -> None:
    assert NO_POLICY.rules == ()
    assert NO_POLICY.default == AcceptAction()
    assert NO_POLICY.default_reason == "no-policy"


# --- every validation error names the rule and the field -------------------------------------------

INVALID: list[tuple[str, Any, str | None, str | None, str]] = [
    # id, document, rule, field, part of the message
    ("not-an-object", [1], None, None, "expected a JSON object"),
    ("version-missing", {"default": {"action": "accept"}}, None, "version", "missing"),
    ("version-2", {"version": 2, "default": {"action": "accept"}}, None, "version", "unsupported version 2"),
    (
        "version-true",
        {"version": True, "default": {"action": "accept"}},
        None,
        "version",
        "unsupported version",
    ),
    ("unknown-top-field", {**doc(), "rule": []}, None, "rule", "unknown field"),
    ("rules-not-array", {**doc(), "rules": {}}, None, "rules", "expected an array"),
    ("default-missing", {"version": 1}, None, "default", "missing"),
    ("default-bad-action", doc(default={"action": "maybe"}), None, "default.action", "'maybe'"),
    ("rule-not-object", doc("r"), "#1", None, "expected a JSON object"),
    ("rule-name-missing", doc({"then": {"action": "accept"}}), "#1", "name", "needs a name"),
    ("rule-name-spaces", doc(rule(name="my rule")), "my rule", "name", "letters, digits"),
    ("rule-name-too-long", doc(rule(name="r" * 65)), "r" * 65, "name", "at most 64"),
    ("rule-names-repeat", doc(rule(), rule()), "r1", None, "two rules have this name"),
    ("rule-unknown-field", doc({**rule(), "if": {}}), "r1", "if", "unknown field"),
    ("rule-then-missing", doc({"name": "r1"}), "r1", "then", "missing"),
    ("rule-when-not-object", doc(rule(when=[])), "r1", "when", "expected a JSON object"),  # type: ignore[arg-type]
    ("when-unknown-condition", doc(rule({"queue": ["q"]})), "r1", "when.queue", "unknown field"),
    ("queues-empty", doc(rule({"queues": []})), "r1", "when.queues", "non-empty array"),
    ("channels-number-item", doc(rule({"channels": [1]})), "r1", "when.channels", "non-empty strings"),
    ("workers-string", doc(rule({"workers": "w1"})), "r1", "when.workers", "array"),
    ("priority-empty", doc(rule({"priority": {}})), "r1", "when.priority", '"min", "max" or both'),
    ("priority-min-float", doc(rule({"priority": {"min": 1.5}})), "r1", "when.priority.min", "integer"),
    (
        "priority-min-above-max",
        doc(rule({"priority": {"min": 5, "max": 1}})),
        "r1",
        "when.priority.min",
        "greater",
    ),
    ("priority-unknown", doc(rule({"priority": {"low": 1}})), "r1", "when.priority.low", "unknown field"),
    ("labels-not-array", doc(rule({"jobLabels": {"vip": True}})), "r1", "when.jobLabels", "non-empty array"),
    (
        "selector-unknown-operator",
        doc(rule({"jobLabels": [{"key": "vip", "labelOperator": "eq", "value": True}]})),
        "r1",
        "when.jobLabels[0].labelOperator",
        "unknown operator 'eq'",
    ),
    (
        "selector-missing-key",
        doc(rule({"workerLabels": [{"labelOperator": "present"}]})),
        "r1",
        "when.workerLabels[0].key",
        "non-empty string",
    ),
    (
        "selector-present-with-value",
        doc(rule({"jobTags": [{"key": "t", "labelOperator": "present", "value": 1}]})),
        "r1",
        "when.jobTags[0].value",
        "takes no value",
    ),
    (
        "selector-ordering-on-string",
        doc(rule({"jobLabels": [{"key": "n", "labelOperator": "lessThan", "value": "5"}]})),
        "r1",
        "when.jobLabels[0].value",
        "compares numbers",
    ),
    (
        "selector-equal-without-value",
        doc(rule({"jobLabels": [{"key": "n", "labelOperator": "equal"}]})),
        "r1",
        "when.jobLabels[0].value",
        "needs a string, number or boolean",
    ),
    (
        "selector-equal-object-value",
        doc(rule({"jobLabels": [{"key": "n", "labelOperator": "equal", "value": {}}]})),
        "r1",
        "when.jobLabels[0].value",
        "needs a string, number or boolean",
    ),
    (
        "selector-unknown-field",
        doc(rule({"jobLabels": [{"key": "n", "operator": "equal", "value": 1}]})),
        "r1",
        "when.jobLabels[0].operator",
        "unknown field",
    ),
    (
        "zone-unknown",
        doc(rule({"timeWindow": {"timeZone": "Mars/Olympus"}})),
        "r1",
        "when.timeWindow.timeZone",
        "Mars",
    ),
    ("zone-missing", doc(rule({"timeWindow": {"from": "09:00"}})), "r1", "when.timeWindow.timeZone", "IANA"),
    (
        "days-unknown",
        doc(rule({"timeWindow": {"timeZone": "UTC", "days": ["monday"]}})),
        "r1",
        "when.timeWindow.days",
        "mon, tue",
    ),
    (
        "from-bad-format",
        doc(rule({"timeWindow": {"timeZone": "UTC", "from": "9am"}})),
        "r1",
        "when.timeWindow.from",
        '"HH:MM"',
    ),
    (
        "from-24-00",
        doc(rule({"timeWindow": {"timeZone": "UTC", "from": "24:00"}})),
        "r1",
        "when.timeWindow.from",
        '"HH:MM"',
    ),
    (
        "to-25-00",
        doc(rule({"timeWindow": {"timeZone": "UTC", "to": "25:00"}})),
        "r1",
        "when.timeWindow.to",
        "24:00",
    ),
    (
        "window-empty",
        doc(rule({"timeWindow": {"timeZone": "UTC", "from": "09:00", "to": "09:00"}})),
        "r1",
        "when.timeWindow.to",
        "empty",
    ),
    ("min-seconds-negative", doc(rule({"minSecondsLeft": -1})), "r1", "when.minSecondsLeft", "at least 0"),
    (
        "min-seconds-string",
        doc(rule({"minSecondsLeft": "5"})),
        "r1",
        "when.minSecondsLeft",
        "expected a number",
    ),
    ("then-not-object", doc(rule(then="accept")), "r1", "then", "expected a JSON object"),  # type: ignore[arg-type]
    ("then-unknown-action", doc(rule(then={"action": "ignore"})), "r1", "then.action", "'ignore'"),
    (
        "accept-with-extra",
        doc(rule(then={"action": "accept", "retryAfterSeconds": 5})),
        "r1",
        "then.retryAfterSeconds",
        "unknown field",
    ),
    (
        "decline-unspecified",
        doc(rule(then={"action": "decline"})),
        "r1",
        "then",
        "never offered to this worker",
    ),
    (
        "decline-both",
        doc(rule(then={"action": "decline", "retry": "never", "retryAfterSeconds": 5})),
        "r1",
        "then",
        "either",
    ),
    (
        "decline-retry-true",
        doc(rule(then={"action": "decline", "retry": True})),
        "r1",
        "then.retry",
        '"never"',
    ),
    (
        "decline-zero-seconds",
        doc(rule(then={"action": "decline", "retryAfterSeconds": 0})),
        "r1",
        "then.retryAfterSeconds",
        "between 1 and",
    ),
    (
        "decline-too-late",
        doc(rule(then={"action": "decline", "retryAfterSeconds": 90 * 24 * 3600 + 1})),
        "r1",
        "then.retryAfterSeconds",
        "between 1 and",
    ),
    ("description-not-text", {**doc(), "description": 5}, None, "description", "expected a string"),
    (
        "rule-description-not-text",
        doc({**rule(), "description": []}),
        "r1",
        "description",
        "expected a string",
    ),
    ("rule-name-number", doc({"name": 7, "then": {"action": "accept"}}), "#1", "name", "needs a name"),
    ("rule-name-empty", doc(rule(name="")), "#1", "name", "needs a name"),
    ("second-rule-without-name", doc(rule(), {"then": {"action": "leave"}}), "#2", "name", "needs a name"),
    ("rule-name-slash", doc(rule(name="a/b")), "a/b", "name", "letters, digits"),
    ("priority-max-string", doc(rule({"priority": {"max": "5"}})), "r1", "when.priority.max", "integer"),
    ("priority-min-boolean", doc(rule({"priority": {"min": True}})), "r1", "when.priority.min", "integer"),
    (
        "selector-key-number",
        doc(rule({"jobLabels": [{"key": 5, "labelOperator": "present"}]})),
        "r1",
        "when.jobLabels[0].key",
        "non-empty string",
    ),
    (
        "selector-key-empty",
        doc(rule({"jobTags": [{"key": "", "labelOperator": "present"}]})),
        "r1",
        "when.jobTags[0].key",
        "non-empty string",
    ),
    (
        "second-selector-bad",
        doc(rule({"workerLabels": [{"key": "a", "labelOperator": "present"}, {"key": "b"}]})),
        "r1",
        "when.workerLabels[1].labelOperator",
        "unknown operator None",
    ),
    (
        "selector-ordering-on-boolean",
        doc(rule({"jobLabels": [{"key": "n", "labelOperator": "greaterThan", "value": True}]})),
        "r1",
        "when.jobLabels[0].value",
        "compares numbers",
    ),
    (
        "selector-absent-with-value",
        doc(rule({"jobLabels": [{"key": "n", "labelOperator": "absent", "value": "x"}]})),
        "r1",
        "when.jobLabels[0].value",
        "'absent' takes no value",
    ),
    (
        "selector-equal-list-value",
        doc(rule({"jobLabels": [{"key": "n", "labelOperator": "notEqual", "value": [1]}]})),
        "r1",
        "when.jobLabels[0].value",
        "needs a string, number or boolean",
    ),
    (
        "selector-not-object",
        doc(rule({"jobLabels": ["vip"]})),
        "r1",
        "when.jobLabels[0]",
        "expected a JSON object",
    ),
    ("labels-empty", doc(rule({"workerLabels": []})), "r1", "when.workerLabels", "non-empty array"),
    ("tags-not-array", doc(rule({"jobTags": "t"})), "r1", "when.jobTags", "non-empty array"),
    (
        "zone-number",
        doc(rule({"timeWindow": {"timeZone": 1}})),
        "r1",
        "when.timeWindow.timeZone",
        "IANA time zone name",
    ),
    (
        "zone-empty",
        doc(rule({"timeWindow": {"timeZone": ""}})),
        "r1",
        "when.timeWindow.timeZone",
        "IANA time zone name",
    ),
    (
        "zone-path",
        doc(rule({"timeWindow": {"timeZone": "../etc/passwd"}})),
        "r1",
        "when.timeWindow.timeZone",
        "unknown IANA time zone",
    ),
    (
        "days-empty",
        doc(rule({"timeWindow": {"timeZone": "UTC", "days": []}})),
        "r1",
        "when.timeWindow.days",
        "non-empty array",
    ),
    (
        "days-string",
        doc(rule({"timeWindow": {"timeZone": "UTC", "days": "mon"}})),
        "r1",
        "when.timeWindow.days",
        "non-empty array",
    ),
    (
        "window-unknown-field",
        doc(rule({"timeWindow": {"timeZone": "UTC", "until": "10:00"}})),
        "r1",
        "when.timeWindow.until",
        "unknown field",
    ),
    *(
        (
            f"clock-{bad.replace(':', '-') or 'empty'}",
            doc(rule({"timeWindow": {"timeZone": "UTC", "to": bad}})),
            "r1",
            "when.timeWindow.to",
            '"HH:MM" from "00:00" to "23:59" (or "24:00")',
        )
        for bad in ("09:60", "9:00", "09-00", "0900", "ab:cd", "09:0x", "-1:00", "24:01", "")
    ),
    (
        "clock-number",
        doc(rule({"timeWindow": {"timeZone": "UTC", "from": 900}})),
        "r1",
        "when.timeWindow.from",
        'expected a local time "HH:MM" from "00:00" to "23:59"',
    ),
    (
        "min-seconds-boolean",
        doc(rule({"minSecondsLeft": True})),
        "r1",
        "when.minSecondsLeft",
        "expected a number",
    ),
    (
        "decline-seconds-string",
        doc(rule(then={"action": "decline", "retryAfterSeconds": "60"})),
        "r1",
        "then.retryAfterSeconds",
        "expected a number",
    ),
    (
        "decline-just-under-one-second",
        doc(rule(then={"action": "decline", "retryAfterSeconds": 0.999})),
        "r1",
        "then.retryAfterSeconds",
        "must be between 1 and 7776000",
    ),
    (
        "decline-retry-other-word",
        doc(rule(then={"action": "decline", "retry": "later"})),
        "r1",
        "then.retry",
        'the only value is "never"',
    ),
    (
        "leave-with-extra",
        doc(rule(then={"action": "leave", "retry": "never"})),
        "r1",
        "then.retry",
        "unknown",
    ),
    ("action-missing", doc(rule(then={"retry": "never"})), "r1", "then.action", "got None"),
    ("version-string", {"version": "1", "default": {"action": "accept"}}, None, "version", "'1'"),
]


# Each message above, word for word: what the person fixing the policy reads.
POLICY_MESSAGES: dict[str, str] = {
    "not-an-object": "expected a JSON object",
    "version-missing": "missing; this handler reads version 1",
    "version-2": "unsupported version 2; this handler reads version 1",
    "version-true": "unsupported version True; this handler reads version 1",
    "unknown-top-field": "unknown field; expected one of $schema, default, description, rules, version",
    "rules-not-array": "expected an array of rules",
    "default-missing": 'missing: say what to do when no rule matches, e.g. {"action": "accept"}',
    "default-bad-action": 'expected "accept", "decline" or "leave", got \'maybe\'',
    "rule-not-object": "expected a JSON object",
    "rule-name-missing": "every rule needs a name (it is the reason the decision log gives)",
    "rule-name-spaces": "use at most 64 letters, digits, '.', '_' or '-' (it appears in log lines)",
    "rule-name-too-long": "use at most 64 letters, digits, '.', '_' or '-' (it appears in log lines)",
    "rule-names-repeat": "two rules have this name; names are the decision's reason",
    "rule-unknown-field": "unknown field; expected one of description, name, then, when",
    "rule-then-missing": 'missing: the action to take, e.g. {"action": "accept"}',
    "rule-when-not-object": "expected a JSON object",
    "when-unknown-condition": (
        "unknown field; expected one of channels, jobLabels, jobTags, minSecondsLeft, priority, "
        "queues, timeWindow, workerLabels, workers"
    ),
    "queues-empty": "expected a non-empty array of non-empty strings",
    "channels-number-item": "expected a non-empty array of non-empty strings",
    "workers-string": "expected a non-empty array of non-empty strings",
    "priority-empty": 'give "min", "max" or both',
    "priority-min-float": "expected an integer",
    "priority-min-above-max": "min (5) is greater than max (1)",
    "priority-unknown": "unknown field; expected one of max, min",
    "labels-not-array": (
        'expected a non-empty array of selectors like {"key": "vip", "labelOperator": "equal", "value": true}'
    ),
    "selector-unknown-operator": (
        "unknown operator 'eq'; expected one of equal, notEqual, greaterThan, greaterThanOrEqual, "
        "lessThan, lessThanOrEqual, present, absent"
    ),
    "selector-missing-key": "expected a non-empty string",
    "selector-present-with-value": "'present' takes no value",
    "selector-ordering-on-string": "'lessThan' compares numbers; expected a number",
    "selector-equal-without-value": "'equal' needs a string, number or boolean value",
    "selector-equal-object-value": "'equal' needs a string, number or boolean value",
    "selector-unknown-field": "unknown field; expected one of key, labelOperator, value",
    "zone-unknown": "unknown IANA time zone 'Mars/Olympus'",
    "zone-missing": 'expected an IANA time zone name such as "Europe/London"',
    "days-unknown": "expected a non-empty array of mon, tue, wed, thu, fri, sat, sun",
    "from-bad-format": 'expected a local time "HH:MM" from "00:00" to "23:59"',
    "from-24-00": 'expected a local time "HH:MM" from "00:00" to "23:59"',
    "to-25-00": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "window-empty": '"from" and "to" are equal, so the window is empty',
    "min-seconds-negative": "must be at least 0",
    "min-seconds-string": "expected a number",
    "then-not-object": "expected a JSON object",
    "then-unknown-action": 'expected "accept", "decline" or "leave", got \'ignore\'',
    "accept-with-extra": "unknown field; expected one of action",
    "decline-unspecified": (
        'a decline must say either "retryAfterSeconds": N (the job is offered to this worker again '
        'after N seconds) or "retry": "never" (it is never offered to this worker again)'
    ),
    "decline-both": (
        'a decline must say either "retryAfterSeconds": N (the job is offered to this worker again '
        'after N seconds) or "retry": "never" (it is never offered to this worker again)'
    ),
    "decline-retry-true": 'the only value is "never"; use "retryAfterSeconds" to retry',
    "decline-zero-seconds": "must be between 1 and 7776000",
    "decline-too-late": "must be between 1 and 7776000",
    "description-not-text": "expected a string",
    "rule-description-not-text": "expected a string",
    "rule-name-number": "every rule needs a name (it is the reason the decision log gives)",
    "rule-name-empty": "every rule needs a name (it is the reason the decision log gives)",
    "second-rule-without-name": "every rule needs a name (it is the reason the decision log gives)",
    "rule-name-slash": "use at most 64 letters, digits, '.', '_' or '-' (it appears in log lines)",
    "priority-max-string": "expected an integer",
    "priority-min-boolean": "expected an integer",
    "selector-key-number": "expected a non-empty string",
    "selector-key-empty": "expected a non-empty string",
    "second-selector-bad": (
        "unknown operator None; expected one of equal, notEqual, greaterThan, greaterThanOrEqual, "
        "lessThan, lessThanOrEqual, present, absent"
    ),
    "selector-ordering-on-boolean": "'greaterThan' compares numbers; expected a number",
    "selector-absent-with-value": "'absent' takes no value",
    "selector-equal-list-value": "'notEqual' needs a string, number or boolean value",
    "selector-not-object": "expected a JSON object",
    "labels-empty": (
        'expected a non-empty array of selectors like {"key": "vip", "labelOperator": "equal", "value": true}'
    ),
    "tags-not-array": (
        'expected a non-empty array of selectors like {"key": "vip", "labelOperator": "equal", "value": true}'
    ),
    "zone-number": 'expected an IANA time zone name such as "Europe/London"',
    "zone-empty": 'expected an IANA time zone name such as "Europe/London"',
    "zone-path": "unknown IANA time zone '../etc/passwd'",
    "days-empty": "expected a non-empty array of mon, tue, wed, thu, fri, sat, sun",
    "days-string": "expected a non-empty array of mon, tue, wed, thu, fri, sat, sun",
    "window-unknown-field": "unknown field; expected one of days, from, timeZone, to",
    "clock-09-60": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock-9-00": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock-09-00": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock-0900": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock-ab-cd": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock-09-0x": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock--1-00": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock-24-01": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock-empty": 'expected a local time "HH:MM" from "00:00" to "23:59" (or "24:00")',
    "clock-number": 'expected a local time "HH:MM" from "00:00" to "23:59"',
    "min-seconds-boolean": "expected a number",
    "decline-seconds-string": "expected a number",
    "decline-just-under-one-second": "must be between 1 and 7776000",
    "decline-retry-other-word": 'the only value is "never"; use "retryAfterSeconds" to retry',
    "leave-with-extra": "unknown field; expected one of action",
    "action-missing": 'expected "accept", "decline" or "leave", got None',
    "version-string": "unsupported version '1'; this handler reads version 1",
}


def test_every_invalid_case_has_its_message_word_for_word() -> None:
    assert set(POLICY_MESSAGES) == {case[0] for case in INVALID}


@pytest.mark.parametrize(("case_id", "message"), POLICY_MESSAGES.items(), ids=list(POLICY_MESSAGES))
def test_each_invalid_policy_error_says_exactly_what_is_wrong(case_id: str, message: str) -> None:
    document = next(case[1] for case in INVALID if case[0] == case_id)

    with pytest.raises(InvalidPolicyError) as caught:
        parse_policy(copy.deepcopy(document))

    assert caught.value.message == message


@pytest.mark.parametrize(
    ("document", "rule_name", "field", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_an_invalid_policy_names_the_rule_and_field(
    document: Any, rule_name: str | None, field: str | None, message: str
) -> None:
    with pytest.raises(InvalidPolicyError) as caught:
        parse_policy(copy.deepcopy(document))

    error = caught.value
    assert (error.rule, error.field) == (rule_name, field)
    assert message in str(error)
    if rule_name is not None:
        assert f"rule {rule_name!r}" in str(error)
    if field is not None:
        assert f"field {field!r}" in str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"version": 1, "version": 1, "default": {"action": "accept"}}', "appears twice"),
        (
            '{"version": 1, "default": {"action": "accept"}, '
            '"rules": [{"name": "r", "when": {"minSecondsLeft": NaN}}]}',
            "NaN is not a JSON number",
        ),
    ],
    ids=["truncated", "duplicate-key", "nan"],
)
def test_policy_text_that_is_not_clean_json_is_rejected(text: str, message: str) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        load_policy_text(text)


def test_the_duplicate_key_error_names_the_key() -> None:
    with pytest.raises(InvalidPolicyError) as caught:
        load_policy_text('{"version": 1, "default": {"action": "accept", "action": "leave"}}')

    assert caught.value.field == "action"


def test_an_unreadable_policy_file_is_an_invalid_policy(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"

    with pytest.raises(InvalidPolicyError, match=r"cannot read .*nope\.json"):
        load_policy_file(missing)


def test_a_policy_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc(rule({"queues": ["q"]}, {"action": "leave"}))), encoding="utf-8")

    assert load_policy_file(path).rules == (
        Rule("r1", (OneOf("queue_id", frozenset({"q"})),), LeaveAction()),
    )


# --- the boundaries that are valid ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("then", "retry_after"),
    [
        ({"action": "decline", "retryAfterSeconds": 1}, timedelta(seconds=1)),
        ({"action": "decline", "retryAfterSeconds": 90 * 24 * 3600}, timedelta(days=90)),
        ({"action": "decline", "retryAfterSeconds": 2.5}, timedelta(seconds=2.5)),
    ],
    ids=["one-second", "ninety-days", "fraction"],
)
def test_retry_after_may_be_anything_from_one_second_to_ninety_days(
    then: dict[str, Any], retry_after: timedelta
) -> None:
    assert parse_policy(doc(rule(then=then))).rules[0].action == DeclineAction(retry_after=retry_after)


@pytest.mark.parametrize(("seconds", "expected"), [(0, 0.0), (0.5, 0.5), (86400, 86400.0)])
def test_min_seconds_left_may_be_zero_or_more(seconds: float, expected: float) -> None:
    assert parse_policy(doc(rule({"minSecondsLeft": seconds}))).rules[0].conditions == (
        MinTimeLeft(expected),
    )


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        ({"from": "00:00", "to": "23:59"}, time(0, 0), time(23, 59)),
        ({"from": "23:59"}, time(23, 59), None),
        ({"from": "22:00", "to": "06:00"}, time(22, 0), time(6, 0)),
        ({"to": "00:01"}, time(0, 0), time(0, 1)),
    ],
    ids=["whole-day-to-23-59", "last-minute", "overnight", "first-minute"],
)
def test_clock_times_from_00_00_to_23_59_are_valid(
    window: dict[str, str], start: time, end: time | None
) -> None:
    policy = parse_policy(doc(rule({"timeWindow": {"timeZone": "UTC", **window}})))

    (condition,) = policy.rules[0].conditions
    assert isinstance(condition, TimeWindow)
    assert (condition.start, condition.end) == (start, end)


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        ({"min": 3}, PriorityRange(3, None)),
        ({"max": -2}, PriorityRange(None, -2)),
        ({"min": 4, "max": 4}, PriorityRange(4, 4)),
    ],
    ids=["min-only", "max-only", "min-equals-max"],
)
def test_a_priority_range_may_be_open_at_either_end_or_a_single_value(
    priority: dict[str, int], expected: PriorityRange
) -> None:
    assert parse_policy(doc(rule({"priority": priority}))).rules[0].conditions == (expected,)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"key": "m", "labelOperator": "equal", "value": 4.5}, LabelSelector("jobLabels", "m", "equal", 4.5)),
        (
            {"key": "m", "labelOperator": "lessThan", "value": -0.5},
            LabelSelector("jobLabels", "m", "lessThan", -0.5),
        ),
        (
            {"key": "s", "labelOperator": "notEqual", "value": ""},
            LabelSelector("jobLabels", "s", "notEqual", ""),
        ),
        (
            {"key": "b", "labelOperator": "equal", "value": False},
            LabelSelector("jobLabels", "b", "equal", False),
        ),
    ],
    ids=["float", "negative-float-ordering", "empty-string", "false"],
)
def test_selector_values_may_be_floats_empty_strings_or_false(
    selector: dict[str, Any], expected: LabelSelector
) -> None:
    assert parse_policy(doc(rule({"jobLabels": [selector]}))).rules[0].conditions == (expected,)


def test_a_description_is_allowed_on_the_policy_and_on_each_rule() -> None:
    policy = parse_policy({**doc({**rule(), "description": "why"}), "description": "what"})

    assert policy.rules == (Rule("r1", (), AcceptAction()),)


def test_the_days_of_a_window_are_read_by_name() -> None:
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    for index, name in enumerate(names):
        policy = parse_policy(doc(rule({"timeWindow": {"timeZone": "UTC", "days": [name]}})))
        (window,) = policy.rules[0].conditions
        assert isinstance(window, TimeWindow)
        assert window.days == frozenset({index})


def test_an_unreadable_policy_file_names_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"version": 1, "description": "caf\xe9"}')

    with pytest.raises(InvalidPolicyError) as caught:
        load_policy_file(path)

    assert str(caught.value).startswith(f"policy: cannot read {str(path)!r}: UnicodeDecodeError: ")
    assert (caught.value.rule, caught.value.field) == (None, None)


def test_a_rule_name_of_exactly_64_characters_is_allowed() -> None:
    name = "r" * 60 + "._-9"

    assert parse_policy(doc(rule(name=name))).rules[0].name == name
