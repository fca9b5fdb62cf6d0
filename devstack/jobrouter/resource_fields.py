"""Field validators shared by the resource normalisers: JSON types, labels, label operators, worker selectors.

Each validator takes a raw JSON value and the field's path (``exceptionRules[0].actions[1].queueId``) and
returns the value validated, or raises :class:`BadRequest` naming that path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.wire import JsonObject, normalize_numbers

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "LABEL_OPERATORS",
    "MAX_DURATION_SECONDS",
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "json_array",
    "json_bool",
    "json_integer",
    "json_number",
    "json_object",
    "json_primitive",
    "json_seconds",
    "label_operator",
    "nonempty_string",
    "normalize_labels",
    "normalize_worker_selector",
]

# The service's models hold counts, capacities and priorities in .NET Int32.
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
# Job priority: the service documents -100 (lowest) to 100 (highest).
MIN_PRIORITY: Final = -100
MAX_PRIORITY: Final = 100
# Durations (offer expiry, selector expiry, wait-time thresholds). The service keeps the resulting instants as
# .NET DateTimeOffsets; no limit is documented, so the emulator refuses more than ten years, which keeps every
# "now + duration" representable (an inferred limit: docs/emulator-support-matrix.md).
MAX_DURATION_SECONDS: Final = 315_360_000

LABEL_OPERATORS: Final[Mapping[str, str]] = {
    op.lower(): op
    for op in ("equal", "notEqual", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual")
}


def _kind_of(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def json_object(value: Any, field: str) -> JsonObject:
    """A JSON object."""
    if not isinstance(value, dict):
        raise BadRequest(f"'{field}' must be a JSON object, got {_kind_of(value)}")
    return value


def json_array(value: Any, field: str) -> list[Any]:
    """A JSON array."""
    if not isinstance(value, list):
        raise BadRequest(f"'{field}' must be a JSON array, got {_kind_of(value)}")
    return value


def nonempty_string(value: Any, field: str) -> str:
    """A string with at least one character."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"'{field}' must be a non-empty string, got {value!r}")
    return value


def json_integer(value: Any, field: str, *, minimum: int = INT32_MIN, maximum: int = INT32_MAX) -> int:
    """An integer (``3.0`` counts) from ``minimum`` to ``maximum`` (by default the Int32 range)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
        or float(value) != int(value)
    ):
        raise BadRequest(f"'{field}' must be an integer, got {value!r}")
    number = int(value)
    if number < minimum:
        raise BadRequest(f"'{field}' must be at least {minimum}, got {number}")
    if number > maximum:
        raise BadRequest(f"'{field}' must be at most {maximum}, got {number}")
    return number


def json_number(
    value: Any, field: str, *, positive: bool = False, maximum: float | None = None
) -> int | float:
    """A finite number (integral floats become ints); > 0 when ``positive``; at most ``maximum`` if given."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"'{field}' must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise BadRequest(f"'{field}' must be greater than 0, got {value!r}")
    if maximum is not None and value > maximum:
        raise BadRequest(f"'{field}' must be at most {maximum:g}, got {value!r}")
    result: int | float = normalize_numbers(value)
    return result


def json_seconds(value: Any, field: str) -> int | float:
    """A duration in seconds: greater than 0, at most :data:`MAX_DURATION_SECONDS`."""
    return json_number(value, field, positive=True, maximum=MAX_DURATION_SECONDS)


def json_bool(value: Any, field: str) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise BadRequest(f"'{field}' must be true or false, got {value!r}")
    return value


def json_primitive(value: Any, field: str) -> Any:
    """A string, number, boolean or null (a label value)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"'{field}' must be a finite number, got {value!r}")
    if value is None or isinstance(value, str | bool | int | float):
        return normalize_numbers(value)
    raise BadRequest(f"'{field}' must be a string, number or boolean, got {_kind_of(value)}")


def normalize_labels(value: Any, field: str) -> JsonObject:
    """A labels/tags map: string keys, primitive values (nulls were removed by merge-patch)."""
    labels = json_object(value, field)
    return {str(k): json_primitive(v, f"{field}.{k}") for k, v in labels.items() if v is not None}


def label_operator(value: Any, field: str) -> str:
    """A label operator in any case, returned in the service's spelling (``greaterThanOrEqual``)."""
    op = LABEL_OPERATORS.get(str(value).lower()) if isinstance(value, str) else None
    if op is None:
        raise BadRequest(f"'{field}' must be one of {', '.join(LABEL_OPERATORS.values())}, got {value!r}")
    return op


def normalize_worker_selector(value: Any, field: str) -> JsonObject:
    """A RouterWorkerSelector as the service echoes it (``expedite``/``status`` filled, keys reordered).

    ``status`` and ``expiresAt`` are read-only; callers that track expiry set them afterwards.
    """
    sel = json_object(value, field)
    out: JsonObject = {}
    if sel.get("expiresAfterSeconds") is not None:
        out["expiresAfterSeconds"] = json_seconds(sel["expiresAfterSeconds"], f"{field}.expiresAfterSeconds")
    out["expedite"] = json_bool(sel.get("expedite", False), f"{field}.expedite")
    out["status"] = "active"
    out["key"] = nonempty_string(sel.get("key"), f"{field}.key")
    out["labelOperator"] = label_operator(sel.get("labelOperator"), f"{field}.labelOperator")
    if "value" in sel:
        out["value"] = json_primitive(sel["value"], f"{field}.value")
    return out
