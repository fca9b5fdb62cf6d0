"""The decision-log line: format_fields and its one inverse, parse_fields, and the typed record."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offer_handlers.decision_log import (
    VALUE_LOG_LIMIT,
    DecisionRecord,
    InvalidLogLineError,
    decision_text,
    format_fields,
    parse_fields,
)

keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
# Any text a field can hold (control characters, quotes, '=', '-', unicode), within the written limit.
values = st.none() | st.text(min_size=1, max_size=VALUE_LOG_LIMIT)
field_maps = st.dictionaries(keys, values, max_size=12)


@settings(max_examples=500, deadline=None)
@given(field_maps)
def test_parse_fields_reads_back_exactly_what_format_fields_wrote(fields: dict[str, str | None]) -> None:
    assert parse_fields(format_fields(fields)) == fields


@settings(max_examples=200, deadline=None)
@given(field_maps)
def test_a_formatted_line_is_one_line(fields: dict[str, str | None]) -> None:
    assert "\n" not in format_fields(fields)


@settings(max_examples=200, deadline=None)
@given(st.integers(), st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_read_back_as_their_text(whole: int, number: float) -> None:
    assert parse_fields(format_fields({"a": whole, "b": number})) == {"a": str(whole), "b": str(number)}


@pytest.mark.parametrize(
    ("value", "read"),
    [("", None), ("-", "-"), ("x" * (VALUE_LOG_LIMIT + 5), "x" * VALUE_LOG_LIMIT + "...(+5 chars)")],
    ids=["empty-is-missing", "a-literal-dash-is-not-missing", "long-values-are-capped"],
)
def test_the_values_that_do_not_read_back_as_written(value: str, read: str | None) -> None:
    assert parse_fields(format_fields({"a": value})) == {"a": read}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a=1 b", "expected key=value at character 4"),
        ('a="unterminated', "expected a space between pairs at character 2"),
        ('a="\\x" b=1', "a quoted value is not a JSON string at character 2"),
        ("a=1 a=2", "key 'a' appears twice at character 4"),
        ("a=1=2", "expected a space between pairs at character 3"),
    ],
    ids=["no-equals", "unterminated-quote", "bad-escape", "duplicate-key", "two-equals"],
)
def test_text_that_is_not_a_decision_line_is_refused_with_the_position(text: str, message: str) -> None:
    with pytest.raises(InvalidLogLineError, match=message):
        parse_fields(text)


def test_an_empty_line_has_no_fields() -> None:
    assert parse_fields("") == {}


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("2030-01-01 12:00:00,000 INFO offer_handlers.decisions: v=2 outcome=left", "v=2 outcome=left"),
        ("[2030-01-01T12:00:00Z] offer_handlers.decisions v=2 outcome=left", "v=2 outcome=left"),
        ("v=2 decision=accept outcome=accepted\n", "v=2 decision=accept outcome=accepted"),
        ("2030-01-01 12:00:00,000 INFO devstack.functions_host.host: Executed 'x' (Succeeded)", None),
        ("outcome=left", None),
    ],
    ids=["host-log", "logger-without-colon", "bare-message", "other-logger", "no-version-no-logger"],
)
def test_decision_text_finds_the_fields_in_a_log_file_line(line: str, text: str | None) -> None:
    assert decision_text(line) == text


def test_a_record_types_the_fields_consumers_read() -> None:
    record = DecisionRecord.from_text(
        "v=2 decision=decline reason=vip retry_at=2030-01-01T00:01:00+00:00 event_id=e1 offer_id=o1 "
        "job_id=j1 worker_id=w1 outcome=gone elapsed_ms=3.5 offer_age_ms=1200 time_left_ms=-50 "
        "schema=eventgrid status=404"
    )

    assert (record.version, record.decision, record.reason, record.outcome, record.status) == (
        2,
        "decline",
        "vip",
        "gone",
        404,
    )
    assert (record.elapsed_ms, record.offer_age_ms, record.time_left_ms) == (3.5, 1200.0, -50.0)
    assert (record.event_id, record.offer_id, record.job_id, record.worker_id) == ("e1", "o1", "j1", "w1")
    assert record.retry_at == "2030-01-01T00:01:00+00:00"
    assert record.fields["schema"] == "eventgrid"


def test_a_line_without_a_version_is_version_one_and_lacks_the_offer_times() -> None:
    record = DecisionRecord.from_text("decision=leave reason=humans retry_at=- offer_id=o1 outcome=left")

    assert (record.version, record.retry_at, record.offer_age_ms, record.time_left_ms) == (
        1,
        None,
        None,
        None,
    )


def test_numbers_that_do_not_parse_read_as_missing() -> None:
    record = DecisionRecord.from_text("v=2 elapsed_ms=fast offer_age_ms=nan status=4.5")

    assert (record.elapsed_ms, record.offer_age_ms, record.status) == (None, None, None)
