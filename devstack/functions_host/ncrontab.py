"""NCRONTAB schedules, as the Functions host reads a timer trigger's ``schedule``: parse, then next time.

Six fields ``{second} {minute} {hour} {day} {month} {day-of-week}`` (five fields, without seconds, are read
as firing at second 0, as NCrontab does). Each field takes ``*``, a number, a range ``a-b``, a step
``*/n`` or ``a-b/n`` or ``a/n``, and comma-separated lists of these; months and days of the week also take
their English three-letter names (``Jan``, ``Sun``). Day of week runs 0-6 from Sunday. As in NCrontab, a
time matches when every field matches (day of month **and** day of week). Times are UTC, as on Linux
plans, where ``WEBSITE_TIME_ZONE`` is not supported. Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

__all__ = ["CrontabError", "Schedule", "parse_schedule"]

_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, lowest, highest, names for the values from `lowest` on)
_FIELDS: Final = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
# Far enough to find Feb 29 on a Monday (28 years) without looping forever on impossible schedules.
_SEARCH_DAYS: Final = 366 * 29


class CrontabError(ValueError):
    """A schedule that is not valid NCRONTAB; the message names the field and what is wrong."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule: the allowed values of each field."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after ``moment`` that the schedule fires (same tzinfo as ``moment``)."""
        candidate = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = candidate.replace(hour=0, minute=0, second=0)
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                found = self._time_on(day, candidate if day.date() == candidate.date() else day)
                if found is not None:
                    return found
            day += timedelta(days=1)
        raise CrontabError(f"schedule {self.expression!r} never fires")

    def _day_matches(self, day: datetime) -> bool:
        weekday = (day.weekday() + 1) % 7  # Python: Monday=0; NCRONTAB: Sunday=0
        return day.month in self.months and day.day in self.days and weekday in self.weekdays

    def _time_on(self, day: datetime, earliest: datetime) -> datetime | None:
        floor = (earliest.hour, earliest.minute, earliest.second)
        for hour in sorted(h for h in self.hours if h >= floor[0]):
            for minute in sorted(m for m in self.minutes if (hour, m) >= floor[:2]):
                for second in sorted(self.seconds):
                    if (hour, minute, second) >= floor:
                        return day.replace(hour=hour, minute=minute, second=second)
        return None


def parse_schedule(expression: str) -> Schedule:
    """Parse a six-field (or five-field) NCRONTAB expression; raises ``CrontabError``."""
    parts = expression.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise CrontabError(
            f"schedule {expression!r} has {len(parts)} fields; NCRONTAB has 6: "
            "{second} {minute} {hour} {day} {month} {day-of-week}"
        )
    values = [_field(text, *spec) for text, spec in zip(parts, _FIELDS, strict=True)]
    return Schedule(expression, *values)


def _field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    allowed: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CrontabError(f"{name} field {text!r}: the step after '/' must be a number above 0")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _number(start, name, low, high, names), _number(end, name, low, high, names)
            if first > last:
                raise CrontabError(f"{name} field {text!r}: the range {base!r} runs backwards")
        else:
            first = _number(base, name, low, high, names)
            last = high if slash else first  # `5/15` means from 5 to the end, every 15
        allowed.update(range(first, last + 1, step))
    return frozenset(allowed)


def _number(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    lowered = text.lower()
    if lowered in names:
        return low + names.index(lowered)
    if not text.isdigit():
        raise CrontabError(f"{name} field: {text!r} is not a number" + (" or a name" if names else ""))
    value = int(text)
    if not low <= value <= high:
        raise CrontabError(f"{name} field: {value} is outside {low}-{high}")
    return value
