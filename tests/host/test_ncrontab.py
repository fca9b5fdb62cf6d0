"""NCRONTAB schedules as the host reads them: six fields (or five), ranges, steps, lists, names; next time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devstack.functions_host.ncrontab import CrontabError, parse_schedule

T = datetime(2026, 3, 4, 10, 15, 30, 250_000, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("* * * * * *", datetime(2026, 3, 4, 10, 15, 31, tzinfo=UTC)),
        ("0 */5 * * * *", datetime(2026, 3, 4, 10, 20, 0, tzinfo=UTC)),
        ("0 0 * * * *", datetime(2026, 3, 4, 11, 0, 0, tzinfo=UTC)),
        ("30 15 10 * * *", datetime(2026, 3, 5, 10, 15, 30, tzinfo=UTC)),
        ("0 30 9 * * 1-5", datetime(2026, 3, 5, 9, 30, 0, tzinfo=UTC)),
        ("0 0 9 * * Sat,Sun", datetime(2026, 3, 7, 9, 0, 0, tzinfo=UTC)),
        ("0 0 0 1 Jan *", datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)),
        ("0 0 12 29 2 *", datetime(2028, 2, 29, 12, 0, 0, tzinfo=UTC)),
        ("5/20 * * * * *", datetime(2026, 3, 4, 10, 15, 45, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 3, 4, 10, 30, 0, tzinfo=UTC)),
        ("0 0 0 13 * 5", datetime(2026, 3, 13, 0, 0, 0, tzinfo=UTC)),  # OR would give Fri 6 March
    ],
    ids=[
        "every-second",
        "every-five-minutes",
        "hourly",
        "daily-just-passed",
        "weekdays",
        "weekend-names",
        "new-year",
        "leap-day",
        "offset-step",
        "five-fields",
        "friday-the-13th-both-must-match",
    ],
)
def test_the_next_time_is_the_first_matching_second_after_now(expression: str, expected: datetime) -> None:
    assert parse_schedule(expression).next_after(T) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "has 4 fields"),
        ("60 * * * * *", "second field: 60 is outside 0-59"),
        ("0 0 0 * Foo *", "month field: 'Foo' is not a number or a name"),
        ("0 0 5-1 * * *", "runs backwards"),
        ("*/0 * * * * *", "the step after '/' must be a number above 0"),
        ("0 0 0 31 2 *", "never fires"),
    ],
    ids=["too-few-fields", "out-of-range", "bad-name", "backwards-range", "zero-step", "impossible"],
)
def test_a_bad_schedule_is_refused_naming_the_field(expression: str, message: str) -> None:
    with pytest.raises(CrontabError, match=message):
        parse_schedule(expression).next_after(T)
