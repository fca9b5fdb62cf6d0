"""Pure rules under the REST layer: RFC 7396 merge-patch, the service's number and time formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.jobrouter.wire import format_time, merge_patch, normalize_numbers, parse_time

# RFC 7396, Appendix A (every example)
RFC_7396_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_7396_EXAMPLES, ids=[str(i) for i in range(15)])
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_a_changed_kind_replaces_the_object_instead_of_merging() -> None:
    target = {
        "mode": {
            "kind": "bestWorker",
            "scoringRuleOptions": {"descendingOrder": True},
            "maxConcurrentOffers": 2,
        }
    }
    patch = {"mode": {"kind": "roundRobin"}}
    assert merge_patch(target, patch) == {"mode": {"kind": "roundRobin"}}


@given(st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3), max_size=5))
def test_merging_a_patch_twice_changes_nothing_more(patch: dict[str, Any]) -> None:
    once = merge_patch({"x": 1}, patch)
    assert merge_patch(once, patch) == once


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10.0, 10), (10.01, 10.01), (True, True), ([1.0, {"a": 2.0}], [1, {"a": 2}]), ("10.0", "10.0")],
    ids=["integral-float", "fraction", "bool-untouched", "nested", "string-untouched"],
)
def test_integral_doubles_are_echoed_as_integers(value: Any, expected: Any) -> None:
    result = normalize_numbers(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2023, 11, 14, 0, 58, 28, 832989, tzinfo=UTC), "2023-11-14T00:58:28.832989+00:00"),
        (datetime(2022, 5, 13, 16, 59, 4, 531190, tzinfo=UTC), "2022-05-13T16:59:04.53119+00:00"),
        (datetime(2023, 11, 14, 1, 4, 10, tzinfo=UTC), "2023-11-14T01:04:10+00:00"),
        (datetime(2023, 11, 14, 3, 0, tzinfo=timezone(timedelta(hours=2))), "2023-11-14T01:00:00+00:00"),
    ],
    ids=["micros", "trailing-zero-dropped", "no-fraction", "converted-to-utc"],
)
def test_times_are_written_like_the_service(value: datetime, text: str) -> None:
    assert format_time(value) == text
    assert parse_time(text, field="t") == value


@pytest.mark.parametrize(
    "text", ["2023-11-14T00:58:28Z", "2023-11-14T00:58:28.8329897+00:00", "0001-01-01T00:00:00Z"], ids=str
)
def test_the_sdks_time_forms_parse(text: str) -> None:
    assert parse_time(text, field="t").tzinfo is not None
