"""Field encoders shared by the Job Router event payloads: times, job statuses, selectors, queues, channels.

Pure functions from the REST shapes the engine stores to the shapes Event Grid events carry: datetimes as
ISO-8601 UTC with seven fractional digits and ``Z``, PascalCase job statuses and label operators, worker
selectors with ``state``/``ttlSeconds``/``expirationTime``. Choices are listed in docs/eventgrid-delivery.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "channel_configuration",
    "event_worker_selector",
    "format_event_time",
    "job_status_pascal",
    "queue_details",
]

JsonObject = dict[str, Any]

_JOB_STATUSES: Final = frozenset(
    {
        "PendingClassification",
        "Queued",
        "Assigned",
        "Completed",
        "Closed",
        "Cancelled",
        "ClassificationFailed",
        "Created",
        "PendingSchedule",
        "Scheduled",
        "ScheduleFailed",
        "WaitingForActivation",
    }
)

# REST label operators -> the event schema's AcsRouterLabelOperator (PascalCase, no "Than" on < and >).
_LABEL_OPERATORS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "equal": "Equal",
        "notequal": "NotEqual",
        "greaterthan": "Greater",
        "lessthan": "Less",
        "greaterthanorequal": "GreaterThanOrEqual",
        "lessthanorequal": "LessThanOrEqual",
        "greater": "Greater",
        "less": "Less",
    }
)


def format_event_time(value: datetime, *, field: str = "time") -> str:
    """Azure's event timestamp form: UTC, seven fractional digits, ``Z`` (2024-03-05T10:15:02.1234567Z)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must be a timezone-aware datetime, got naive {value!r}")
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}0Z"


def _time_value(value: datetime | str, *, field: str) -> str:
    if isinstance(value, datetime):
        return format_event_time(value, field=field)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} is not an ISO-8601 date-time: {value!r}") from None
    return format_event_time(parsed, field=field)


def job_status_pascal(status: str) -> str:
    """REST job status (``pendingClassification``) or event form -> the event's PascalCase form."""
    pascal = status[:1].upper() + status[1:]
    if pascal not in _JOB_STATUSES:
        raise ValueError(f"unknown job status {status!r}; expected one of {sorted(_JOB_STATUSES)}")
    return pascal


def event_worker_selector(selector: Mapping[str, Any]) -> JsonObject:
    """A REST worker selector -> the event's AcsRouterWorkerSelector.

    REST ``{key, labelOperator, value, expiresAfterSeconds, status, expiresAt}`` becomes
    ``{key, labelOperator, value, ttlSeconds?, state, expirationTime?}``.
    """
    if "key" not in selector or "labelOperator" not in selector:
        raise ValueError(f"worker selector needs 'key' and 'labelOperator': {dict(selector)!r}")
    raw_operator = str(selector["labelOperator"])
    operator = _LABEL_OPERATORS.get(raw_operator.lower())
    if operator is None:
        raise ValueError(f"worker selector has unknown labelOperator {raw_operator!r}")
    result: JsonObject = {
        "key": selector["key"],
        "labelOperator": operator,
        "value": selector.get("value"),
    }
    ttl = selector.get("expiresAfterSeconds", selector.get("ttlSeconds"))
    if ttl is not None:
        result["ttlSeconds"] = ttl
    result["state"] = str(selector.get("status", selector.get("state", "active"))).lower()
    expires_at = selector.get("expiresAt", selector.get("expirationTime"))
    if expires_at is not None:
        result["expirationTime"] = _time_value(expires_at, field="worker selector expiresAt")
    return result


def queue_details(queue: Mapping[str, Any]) -> JsonObject:
    """A REST queue (``{id, name?, labels?, ...}``) -> the event's ``{id, name?, labels}``.

    Used for ``queueDetails`` (RouterJobClassified) and ``queueAssignments`` (worker events).
    """
    result: JsonObject = {"id": queue.get("id")}
    if queue.get("name") is not None:
        result["name"] = queue["name"]
    result["labels"] = dict(queue.get("labels") or {})
    return result


def channel_configuration(channel: Mapping[str, Any]) -> JsonObject:
    """A REST worker channel ``{channelId, capacityCostPerJob, maxNumberOfJobs?}`` -> channelConfiguration."""
    return {
        k: channel[k]
        for k in ("channelId", "capacityCostPerJob", "maxNumberOfJobs")
        if channel.get(k) is not None
    }
