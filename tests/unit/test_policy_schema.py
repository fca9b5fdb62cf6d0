"""The policy JSON Schema (offer_handlers/policy.schema.json) and the loader agree on what a policy is.

Every document the loader accepts validates against the schema, and every document the schema accepts
loads, except for the few checks only the loader can make (``LOADER_ONLY``, listed in README.md). The
documents come from the examples, the invalid cases of tests/unit/test_policy.py, hypothesis (the same
mutations of examples/policy.json that tests/unit/test_properties.py uses, and arbitrary JSON) and, in
tests/conventions/test_policy_schema_coverage.py, every document the unit tests load.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft7Validator

from offer_handlers.errors import InvalidPolicyError
from offer_handlers.policy_document import load_policy_file, load_policy_text, parse_policy
from tests.fixtures import EXAMPLES_DIR, REPO_ROOT
from tests.unit.test_policy import INVALID, doc, rule
from tests.unit.test_properties import json_values, mutated_policies

SCHEMA_PATH = REPO_ROOT / "offer_handlers" / "policy.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft7Validator(SCHEMA)

EXAMPLE_POLICIES = sorted(
    path
    for path in EXAMPLES_DIR.glob("*.json")
    if json.loads(path.read_text(encoding="utf-8")).get("$schema") == "../offer_handlers/policy.schema.json"
)


def loader_only(error: InvalidPolicyError) -> bool:
    """Whether the loader refused the document for a reason a JSON Schema cannot express."""
    field = error.field or ""
    return (
        # Time-zone names come from the IANA database the app runs with.
        (field.endswith(".timeZone") and "unknown IANA time zone" in error.message)
        # Rule names must be unique: a schema can require unique items, not unique names.
        or "two rules have this name" in error.message
        # A schema cannot compare two values of the same document.
        or (field.endswith("priority.min") and "greater than max" in error.message)
        or (field.endswith("timeWindow.to") and "window is empty" in error.message)
        # JSON Schema counts 1.0 as an integer; the loader wants the integer written as one.
        or (field.endswith(("priority.min", "priority.max")) and "expected an integer" in error.message)
    )


def loader_verdict(document: Any) -> InvalidPolicyError | None:
    """None when the loader accepts the document, else its error."""
    try:
        load_policy_text(json.dumps(document, allow_nan=False))
    except InvalidPolicyError as err:
        return err
    return None


def is_json(document: Any) -> bool:
    """Whether the value is a JSON document (hypothesis also draws NaN and infinities, which JSON has not)."""
    try:
        json.dumps(document, allow_nan=False)
    except ValueError:
        return False
    return True


def assert_agree(document: Any) -> None:
    """The schema accepts exactly what the loader accepts, but for the loader-only checks."""
    schema_accepts = VALIDATOR.is_valid(document)
    error = loader_verdict(document)
    if error is None:
        assert schema_accepts, [e.message for e in VALIDATOR.iter_errors(document)]
    elif schema_accepts:
        assert loader_only(error), f"the schema accepts what the loader refuses: {error}"


def test_the_schema_is_a_valid_draft_7_schema() -> None:
    Draft7Validator.check_schema(SCHEMA)


def test_both_example_policies_reference_the_shipped_schema() -> None:
    assert [p.name for p in EXAMPLE_POLICIES] == ["contact-centre-policy.json", "policy.json"]
    for path in EXAMPLE_POLICIES:
        reference = json.loads(path.read_text(encoding="utf-8"))["$schema"]
        assert (path.parent / reference).resolve() == SCHEMA_PATH


@pytest.mark.parametrize("path", EXAMPLE_POLICIES, ids=[p.name for p in EXAMPLE_POLICIES])
def test_every_example_policy_validates_and_loads(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))

    assert [e.message for e in VALIDATOR.iter_errors(document)] == []
    assert load_policy_file(path).rules


VALID = {
    "smallest": {"version": 1, "default": {"action": "accept"}},
    "empty rules": doc(),
    "every condition": doc(
        rule(
            {
                "queues": ["q1"],
                "channels": ["voice"],
                "workers": ["w1"],
                "priority": {"min": 1, "max": 5},
                "jobLabels": [{"key": "vip", "labelOperator": "equal", "value": True}],
                "workerLabels": [{"key": "level", "labelOperator": "greaterThan", "value": 2.5}],
                "jobTags": [{"key": "test", "labelOperator": "absent"}],
                "timeWindow": {"timeZone": "Europe/London", "days": ["mon"], "from": "09:00", "to": "24:00"},
                "minSecondsLeft": 0,
            },
            {"action": "decline", "retryAfterSeconds": 90 * 24 * 3600},
        )
    ),
    "only a priority maximum": doc(rule({"priority": {"max": -3}})),
    "nulls mean absent": {
        "$schema": None,
        "version": 1,
        "description": None,
        "rules": [
            {
                "name": "r",
                "description": None,
                "when": {
                    "queues": None,
                    "priority": {"min": None, "max": 2},
                    "timeWindow": {"timeZone": "UTC", "days": None, "from": None, "to": None},
                    "jobLabels": [{"key": "k", "labelOperator": "present", "value": None}],
                    "minSecondsLeft": None,
                },
                "then": {"action": "decline", "retry": "never", "retryAfterSeconds": None},
            },
            {"name": "s", "when": None, "then": {"action": "decline", "retryAfterSeconds": 1, "retry": None}},
        ],
        "default": {"action": "leave"},
    },
    "overnight window": doc(rule({"timeWindow": {"timeZone": "UTC", "from": "22:00", "to": "06:00"}})),
    "longest rule name": doc(rule(name="a" * 64)),
}


@pytest.mark.parametrize("document", VALID.values(), ids=VALID.keys())
def test_a_valid_policy_passes_both(document: Any) -> None:
    assert VALIDATOR.is_valid(document), [e.message for e in VALIDATOR.iter_errors(document)]
    assert loader_verdict(document) is None


# The few checks only the loader can do (README.md, "The policy format", lists them).
LOADER_ONLY = {
    "zone-unknown": doc(rule({"timeWindow": {"timeZone": "Mars/Olympus"}})),
    "rule-names-repeat": doc(rule(), rule()),
    "priority-min-above-max": doc(rule({"priority": {"min": 5, "max": 1}})),
    "window-empty": doc(rule({"timeWindow": {"timeZone": "UTC", "from": "09:00", "to": "09:00"}})),
    "priority-written-as-fraction": doc(rule({"priority": {"min": 1.0}})),
}


@pytest.mark.parametrize("document", LOADER_ONLY.values(), ids=LOADER_ONLY.keys())
def test_only_the_loader_makes_the_semantic_checks(document: Any) -> None:
    error = loader_verdict(document)

    assert VALIDATOR.is_valid(document)
    assert error is not None
    assert loader_only(error)


INVALID_CASES = {case[0]: case[1] for case in INVALID}
# The loader tests' invalid documents that a schema cannot refuse (each is in LOADER_ONLY's kind).
INVALID_FOR_THE_LOADER_ONLY = {
    "zone-unknown",
    "zone-path",
    "rule-names-repeat",
    "priority-min-above-max",
    "window-empty",
}


@pytest.mark.parametrize(("case", "document"), INVALID_CASES.items(), ids=INVALID_CASES.keys())
def test_every_invalid_policy_of_the_loader_tests_is_refused_by_the_schema_too(
    case: str, document: Any
) -> None:
    error = loader_verdict(copy.deepcopy(document))

    assert error is not None
    if case in INVALID_FOR_THE_LOADER_ONLY:
        assert VALIDATOR.is_valid(document)
        assert loader_only(error)
    else:
        assert not VALIDATOR.is_valid(document)


MORE_INVALID = {
    "schema-not-text": {"$schema": 1, "version": 1, "default": {"action": "accept"}},
    "name-with-newline": doc(rule(name="r\n")),
    "name-empty": doc(rule(name="")),
    "time-in-other-digits": doc(
        rule({"timeWindow": {"timeZone": "UTC", "from": "\u0660\u0669:\u0660\u0660"}})
    ),
    "time-with-superscript": doc(rule({"timeWindow": {"timeZone": "UTC", "from": "0\u00b2:00"}})),
    "time-with-newline": doc(rule({"timeWindow": {"timeZone": "UTC", "from": "09:00\n"}})),
    "rules-null": {"version": 1, "rules": None, "default": {"action": "accept"}},
    "version-null": {"version": None, "default": {"action": "accept"}},
    "version-string": {"version": "1", "default": {"action": "accept"}},
    "priority-only-nulls": doc(rule({"priority": {"min": None}})),
    "days-empty": doc(rule({"timeWindow": {"timeZone": "UTC", "days": []}})),
    "accept-with-null-extra": doc(rule(then={"action": "accept", "retry": None})),
    "decline-retry-true-with-seconds": doc(
        rule(then={"action": "decline", "retryAfterSeconds": 5, "retry": True})
    ),
    "selector-present-with-false": doc(
        rule({"jobTags": [{"key": "t", "labelOperator": "present", "value": False}]})
    ),
    "selector-ordering-on-boolean": doc(
        rule({"jobLabels": [{"key": "n", "labelOperator": "lessThan", "value": True}]})
    ),
    "selector-equal-null": doc(rule({"jobLabels": [{"key": "n", "labelOperator": "equal", "value": None}]})),
    "id-empty-string": doc(rule({"workers": [""]})),
}


@pytest.mark.parametrize("document", MORE_INVALID.values(), ids=MORE_INVALID.keys())
def test_an_invalid_policy_is_refused_by_both(document: Any) -> None:
    assert not VALIDATOR.is_valid(document)
    assert loader_verdict(document) is not None


AGREEMENT = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@AGREEMENT
@given(mutated_policies())
def test_a_mutated_example_policy_gets_the_same_verdict_from_schema_and_loader(document: Any) -> None:
    if is_json(document):
        assert_agree(document)


@AGREEMENT
@given(json_values)
def test_any_json_value_gets_the_same_verdict_from_schema_and_loader(document: Any) -> None:
    if is_json(document):
        assert_agree(document)


def test_a_document_with_a_non_finite_number_is_refused_by_the_loader() -> None:
    # Not JSON, so out of the schema's reach: the strict reader refuses NaN and infinities.
    text = json.dumps(doc(rule({"minSecondsLeft": math.inf})))

    with pytest.raises(InvalidPolicyError, match="Infinity is not a JSON number"):
        load_policy_text(text)


def test_the_loader_accepts_and_ignores_a_schema_reference() -> None:
    with_reference = {"$schema": "../offer_handlers/policy.schema.json", **doc(rule())}

    assert parse_policy(with_reference) == parse_policy(doc(rule()))
