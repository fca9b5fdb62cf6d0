"""Request bodies and date-times the emulator refuses with a 400 naming what is wrong (never a 500)."""

from __future__ import annotations

import pytest

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.wire import MAX_JSON_DEPTH, parse_json_body, parse_time


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b'{"priority": NaN}', "'priority' must be a finite number, got NaN"),
        (b'{"labels": {"score": Infinity}}', "'labels.score' must be a finite number, got Infinity"),
        (b'{"labels": {"score": -Infinity}}', "'labels.score' must be a finite number, got -Infinity"),
        (
            b'{"offerExpiresAfterSeconds": 1e999}',
            "'offerExpiresAfterSeconds' must be a finite number, got 1e999",
        ),
        (b'{"channels": [{"x": 1}, {"x": NaN}]}', "'channels[1].x' must be a finite number, got NaN"),
        (b"NaN", "'body' must be a finite number"),
    ],
    ids=["nan", "infinity", "minus-infinity", "overflowing-literal", "inside-a-list", "top-level"],
)
def test_numbers_json_cannot_carry_are_refused_naming_their_path(raw: bytes, named: str) -> None:
    with pytest.raises(BadRequest, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_json_body(raw)


@pytest.mark.parametrize(
    "depth", [MAX_JSON_DEPTH + 1, 5_000, 200_000], ids=["one-too-deep", "deep", "very-deep"]
)
def test_bodies_nested_too_deeply_are_refused(depth: int) -> None:
    with pytest.raises(BadRequest, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        parse_json_body(b"[" * depth + b"]" * depth)


def test_a_body_at_the_depth_limit_is_accepted() -> None:
    body = parse_json_body(b'{"a": ' * (MAX_JSON_DEPTH - 1) + b"{}" + b"}" * (MAX_JSON_DEPTH - 1))
    assert isinstance(body, dict)


def test_finite_numbers_are_kept_as_they_were_sent() -> None:
    assert parse_json_body(b'{"a": 1.5, "b": 2, "c": -0.25, "d": 1e300}') == {
        "a": 1.5,
        "b": 2,
        "c": -0.25,
        "d": 1e300,
    }


def test_an_empty_body_is_none() -> None:
    assert parse_json_body(b"  ") is None


@pytest.mark.parametrize(
    "value",
    ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"],
    ids=["after-the-last-instant", "before-the-first-instant"],
)
def test_date_times_outside_the_representable_range_are_refused_naming_the_field(value: str) -> None:
    with pytest.raises(BadRequest, match="'scheduleAt' is outside the supported date-time range"):
        parse_time(value, field="scheduleAt")
