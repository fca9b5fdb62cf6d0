"""Wire-format helpers shared by the REST layer and the engine: datetimes, numbers, merge-patch, key order.

The live service (a .NET service) writes datetimes as ``2023-11-14T00:58:28.8329897+00:00`` with trailing
zero digits of the fraction dropped, writes integral doubles as integers (``10.0`` -> ``10``), and writes
object keys in its model's declaration order. These helpers reproduce that so responses match recordings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime as _rfc1123
from email.utils import parsedate_to_datetime
from typing import Any

from devstack.jobrouter.errors import BadRequest

__all__ = [
    "MAX_JSON_DEPTH",
    "JsonObject",
    "format_http_date",
    "format_time",
    "merge_patch",
    "normalize_numbers",
    "ordered",
    "parse_http_date",
    "parse_json_body",
    "parse_time",
]

JsonObject = dict[str, Any]

# System.Text.Json's default maximum depth (the service is a .NET service); deeper bodies get a 400.
MAX_JSON_DEPTH = 64


class _NotFinite(float):
    """A number JSON cannot carry (``NaN``, ``Infinity``, or a literal too large for a double)."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> _NotFinite:
        number = super().__new__(cls, math.nan)
        number.text = text
        return number


def _parse_float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _NotFinite(text)


def parse_json_body(raw: bytes) -> Any:
    """A request body as JSON (None when empty), or :class:`BadRequest` naming what is wrong.

    Refused: text that is not JSON, nesting deeper than :data:`MAX_JSON_DEPTH`, and numbers JSON cannot
    carry (``NaN``, ``Infinity``, ``1e999``), named by their path (``labels.score``).
    """
    if not raw.strip():
        return None
    try:
        body = json.loads(raw, parse_constant=_NotFinite, parse_float=_parse_float)
    except RecursionError:
        raise BadRequest(f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    _check_tree(body)
    return body


def _check_tree(body: Any) -> None:
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, _NotFinite):
            raise BadRequest(f"'{path or 'body'}' must be a finite number, got {value.text}.")
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                child_path = (
                    f"{path}[{key}]" if isinstance(value, list) else f"{path}.{key}" if path else str(key)
                )
                stack.append((child, child_path, depth + 1))


def format_time(value: datetime) -> str:
    """``2023-11-14T00:58:28.83299+00:00``: UTC, fraction without trailing zeros, ``+00:00`` offset."""
    utc = value.astimezone(UTC)
    text = f"{utc:%Y-%m-%dT%H:%M:%S}"
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "+00:00"


def parse_time(value: Any, *, field: str) -> datetime:
    """An ISO-8601 date-time from a request body or query (``Z`` or offset; naive means UTC)."""
    if not isinstance(value, str):
        raise BadRequest(f"'{field}' must be an ISO-8601 date-time string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"'{field}' is not a valid ISO-8601 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00 is after the last representable instant
        raise BadRequest(f"'{field}' is outside the supported date-time range: {value!r}") from None


def format_http_date(value: datetime) -> str:
    """RFC 1123 (``Tue, 14 Nov 2023 00:58:26 GMT``) for ``Last-Modified``."""
    return _rfc1123(value.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    """RFC 1123 header date, or None if it does not parse."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def normalize_numbers(value: Any) -> Any:
    """Integral floats become ints, recursively (the service echoes ``10.0`` as ``10``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_numbers(v) for v in value]
    return value


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge-patch: objects merge key by key, ``null`` removes, anything else replaces.

    One refinement: a polymorphic object whose ``kind`` changes is replaced, not merged, so switching a
    ``bestWorker`` mode to ``longestIdle`` drops ``scoringRuleOptions`` (as the recordings show).
    """
    if not isinstance(patch, dict):
        return patch
    same_kind = isinstance(target, dict) and ("kind" not in patch or patch["kind"] == target.get("kind"))
    result: JsonObject = dict(target) if isinstance(target, dict) and same_kind else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def ordered(obj: Mapping[str, Any], keys: Iterable[str]) -> JsonObject:
    """``obj`` with ``keys`` first in that order (absent ones skipped), then any other keys as they were."""
    keys = list(keys)
    result: JsonObject = {k: obj[k] for k in keys if k in obj}
    for key, value in obj.items():
        if key not in result:
            result[key] = value
    return result
