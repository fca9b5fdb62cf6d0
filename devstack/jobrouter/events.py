"""Job Router Event Grid events: type names, subjects and ``data`` payloads, as wire JSON.

Pure builders, one per ``Microsoft.Communication.Router*`` event type (jobrouter-api.md §5). Each returns a
frozen :class:`RouterEvent` whose ``data`` is exactly the JSON object the service puts in the event: camelCase
keys, datetimes as ISO-8601 UTC strings with seven fractional digits and ``Z``, optional fields left out when
``None``, label/tag maps always present (copied: later caller mutation cannot leak into a queued event).
Envelopes (id, eventTime, topic, schema) are the publisher's job (:mod:`devstack.jobrouter.eventgrid`).

Choices where the reference is silent or contradictory (listed in docs/eventgrid-delivery.md):

- current field names only (``offeredOn``/``expiresOn``, ``queueDetails``, ``scheduledOn``,
  ``expiredRequestedWorkerSelectors``, ``updatedWorkerProperties``), never the older doc names;
- worker selectors in events use the spec's shape and PascalCase ``labelOperator`` (``Equal``, ``Greater``);
- a ``None`` id inside a subject renders as an empty segment (e.g. ``job/j1/channel/``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "ALL_EVENT_TYPES",
    "EVENT_TYPE_PREFIX",
    "JOB_CANCELLED",
    "JOB_CLASSIFICATION_FAILED",
    "JOB_CLASSIFIED",
    "JOB_CLOSED",
    "JOB_COMPLETED",
    "JOB_DELETED",
    "JOB_EXCEPTION_TRIGGERED",
    "JOB_QUEUED",
    "JOB_RECEIVED",
    "JOB_SCHEDULING_FAILED",
    "JOB_UNASSIGNED",
    "JOB_WAITING_FOR_ACTIVATION",
    "JOB_WORKER_SELECTORS_EXPIRED",
    "UPDATED_WORKER_PROPERTIES",
    "WORKER_DELETED",
    "WORKER_DEREGISTERED",
    "WORKER_OFFER_ACCEPTED",
    "WORKER_OFFER_DECLINED",
    "WORKER_OFFER_EXPIRED",
    "WORKER_OFFER_ISSUED",
    "WORKER_OFFER_REVOKED",
    "WORKER_REGISTERED",
    "WORKER_UPDATED",
    "RouterEvent",
    "channel_configuration",
    "event_worker_selector",
    "format_event_time",
    "job_cancelled",
    "job_classification_failed",
    "job_classified",
    "job_closed",
    "job_completed",
    "job_deleted",
    "job_exception_triggered",
    "job_queued",
    "job_received",
    "job_scheduling_failed",
    "job_status_pascal",
    "job_unassigned",
    "job_waiting_for_activation",
    "job_worker_selectors_expired",
    "offer_accepted",
    "offer_declined",
    "offer_expired",
    "offer_issued",
    "offer_revoked",
    "queue_details",
    "resolve_event_type",
    "short_event_type",
    "worker_deleted",
    "worker_deregistered",
    "worker_registered",
    "worker_updated",
]

EVENT_TYPE_PREFIX: Final = "Microsoft.Communication."

JOB_RECEIVED: Final = "Microsoft.Communication.RouterJobReceived"
JOB_CLASSIFIED: Final = "Microsoft.Communication.RouterJobClassified"
JOB_QUEUED: Final = "Microsoft.Communication.RouterJobQueued"
JOB_CLASSIFICATION_FAILED: Final = "Microsoft.Communication.RouterJobClassificationFailed"
JOB_COMPLETED: Final = "Microsoft.Communication.RouterJobCompleted"
JOB_CLOSED: Final = "Microsoft.Communication.RouterJobClosed"
JOB_CANCELLED: Final = "Microsoft.Communication.RouterJobCancelled"
JOB_EXCEPTION_TRIGGERED: Final = "Microsoft.Communication.RouterJobExceptionTriggered"
JOB_WORKER_SELECTORS_EXPIRED: Final = "Microsoft.Communication.RouterJobWorkerSelectorsExpired"
JOB_UNASSIGNED: Final = "Microsoft.Communication.RouterJobUnassigned"
JOB_WAITING_FOR_ACTIVATION: Final = "Microsoft.Communication.RouterJobWaitingForActivation"
JOB_SCHEDULING_FAILED: Final = "Microsoft.Communication.RouterJobSchedulingFailed"
JOB_DELETED: Final = "Microsoft.Communication.RouterJobDeleted"

WORKER_OFFER_ISSUED: Final = "Microsoft.Communication.RouterWorkerOfferIssued"
WORKER_OFFER_ACCEPTED: Final = "Microsoft.Communication.RouterWorkerOfferAccepted"
WORKER_OFFER_DECLINED: Final = "Microsoft.Communication.RouterWorkerOfferDeclined"
WORKER_OFFER_REVOKED: Final = "Microsoft.Communication.RouterWorkerOfferRevoked"
WORKER_OFFER_EXPIRED: Final = "Microsoft.Communication.RouterWorkerOfferExpired"
WORKER_REGISTERED: Final = "Microsoft.Communication.RouterWorkerRegistered"
WORKER_DEREGISTERED: Final = "Microsoft.Communication.RouterWorkerDeregistered"
WORKER_DELETED: Final = "Microsoft.Communication.RouterWorkerDeleted"
WORKER_UPDATED: Final = "Microsoft.Communication.RouterWorkerUpdated"

ALL_EVENT_TYPES: Final[tuple[str, ...]] = (
    JOB_RECEIVED,
    JOB_CLASSIFIED,
    JOB_QUEUED,
    JOB_CLASSIFICATION_FAILED,
    JOB_COMPLETED,
    JOB_CLOSED,
    JOB_CANCELLED,
    JOB_EXCEPTION_TRIGGERED,
    JOB_WORKER_SELECTORS_EXPIRED,
    JOB_UNASSIGNED,
    JOB_WAITING_FOR_ACTIVATION,
    JOB_SCHEDULING_FAILED,
    JOB_DELETED,
    WORKER_OFFER_ISSUED,
    WORKER_OFFER_ACCEPTED,
    WORKER_OFFER_DECLINED,
    WORKER_OFFER_REVOKED,
    WORKER_OFFER_EXPIRED,
    WORKER_REGISTERED,
    WORKER_DEREGISTERED,
    WORKER_DELETED,
    WORKER_UPDATED,
)

#: Values allowed in ``RouterWorkerUpdated.data.updatedWorkerProperties``.
UPDATED_WORKER_PROPERTIES: Final = frozenset(
    {"AvailableForOffers", "TotalCapacity", "QueueAssignments", "Labels", "Tags", "ChannelConfigurations"}
)

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

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RouterEvent:
    """One Job Router event before it gets an envelope: full type name, subject and wire-JSON ``data``."""

    event_type: str
    subject: str
    data: Mapping[str, Any]

    @property
    def short_type(self) -> str:
        """The type without the ``Microsoft.Communication.`` prefix, e.g. ``RouterWorkerOfferIssued``."""
        return short_event_type(self.event_type)


# --------------------------------------------------------------------------------------------- helpers


def short_event_type(event_type: str) -> str:
    """``Microsoft.Communication.RouterJobQueued`` -> ``RouterJobQueued`` (other strings unchanged)."""
    return event_type.removeprefix(EVENT_TYPE_PREFIX)


def resolve_event_type(name: str) -> str:
    """Full event type name for a full or short name (case-insensitive); ValueError naming it if unknown."""
    wanted = name.strip().lower()
    for event_type in ALL_EVENT_TYPES:
        if wanted in (event_type.lower(), short_event_type(event_type).lower()):
            return event_type
    known = ", ".join(short_event_type(t) for t in ALL_EVENT_TYPES)
    raise ValueError(f"unknown Job Router event type {name!r}; known types: {known}")


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


def _selectors(selectors: Iterable[Mapping[str, Any]]) -> list[JsonObject]:
    return [event_worker_selector(s) for s in selectors]


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


def _put(data: JsonObject, key: str, value: Any) -> None:
    """Set an optional field: None means absent on the wire."""
    if value is not None:
        data[key] = value


def _seg(value: str | None) -> str:
    return "" if value is None else value


def _job_subject(job_id: str, channel_id: str | None, *tail: tuple[str, str | None]) -> str:
    parts = [f"job/{job_id}/channel/{_seg(channel_id)}"]
    parts.extend(f"{name}/{_seg(value)}" for name, value in tail)
    return "/".join(parts)


def _job_base(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    labels: Mapping[str, Any],
    tags: Mapping[str, Any],
) -> JsonObject:
    data: JsonObject = {"jobId": job_id}
    _put(data, "channelReference", channel_reference)
    _put(data, "channelId", channel_id)
    _put(data, "queueId", queue_id)
    data["labels"] = dict(labels)
    data["tags"] = dict(tags)
    return data


def _offer_base(
    *,
    worker_id: str,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    offer_id: str,
) -> JsonObject:
    data: JsonObject = {"workerId": worker_id, "jobId": job_id}
    _put(data, "channelReference", channel_reference)
    _put(data, "channelId", channel_id)
    _put(data, "queueId", queue_id)
    data["offerId"] = offer_id
    return data


def _offer_subject(worker_id: str, job_id: str) -> str:
    return f"worker/{worker_id}/job/{job_id}"


# ----------------------------------------------------------------------------------------- offer events


def offer_issued(
    *,
    worker_id: str,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    offer_id: str,
    job_priority: int | None,
    offered_on: datetime,
    expires_on: datetime,
    job_labels: Mapping[str, Any] = _EMPTY,
    job_tags: Mapping[str, Any] = _EMPTY,
    worker_labels: Mapping[str, Any] = _EMPTY,
    worker_tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterWorkerOfferIssued: an offer was sent to a worker."""
    data = _offer_base(
        worker_id=worker_id,
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        offer_id=offer_id,
    )
    data["offeredOn"] = format_event_time(offered_on, field="offered_on")
    data["expiresOn"] = format_event_time(expires_on, field="expires_on")
    _put(data, "jobPriority", job_priority)
    data["jobLabels"] = dict(job_labels)
    data["jobTags"] = dict(job_tags)
    data["workerLabels"] = dict(worker_labels)
    data["workerTags"] = dict(worker_tags)
    return RouterEvent(WORKER_OFFER_ISSUED, _offer_subject(worker_id, job_id), data)


def offer_accepted(
    *,
    worker_id: str,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    offer_id: str,
    assignment_id: str,
    job_priority: int | None,
    job_labels: Mapping[str, Any] = _EMPTY,
    job_tags: Mapping[str, Any] = _EMPTY,
    worker_labels: Mapping[str, Any] = _EMPTY,
    worker_tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterWorkerOfferAccepted: the worker accepted; carries the new assignment id."""
    data = _offer_base(
        worker_id=worker_id,
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        offer_id=offer_id,
    )
    _put(data, "jobPriority", job_priority)
    data["assignmentId"] = assignment_id
    data["jobLabels"] = dict(job_labels)
    data["jobTags"] = dict(job_tags)
    data["workerLabels"] = dict(worker_labels)
    data["workerTags"] = dict(worker_tags)
    return RouterEvent(WORKER_OFFER_ACCEPTED, _offer_subject(worker_id, job_id), data)


def _plain_offer_event(
    event_type: str,
    *,
    worker_id: str,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    offer_id: str,
) -> RouterEvent:
    data = _offer_base(
        worker_id=worker_id,
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        offer_id=offer_id,
    )
    return RouterEvent(event_type, _offer_subject(worker_id, job_id), data)


def offer_declined(
    *,
    worker_id: str,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    offer_id: str,
) -> RouterEvent:
    """RouterWorkerOfferDeclined: the worker declined the offer."""
    return _plain_offer_event(
        WORKER_OFFER_DECLINED,
        worker_id=worker_id,
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        offer_id=offer_id,
    )


def offer_revoked(
    *,
    worker_id: str,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    offer_id: str,
) -> RouterEvent:
    """RouterWorkerOfferRevoked: the offer was withdrawn (job taken or gone, worker deregistered)."""
    return _plain_offer_event(
        WORKER_OFFER_REVOKED,
        worker_id=worker_id,
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        offer_id=offer_id,
    )


def offer_expired(
    *,
    worker_id: str,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    offer_id: str,
) -> RouterEvent:
    """RouterWorkerOfferExpired: the offer was neither accepted nor declined in time."""
    return _plain_offer_event(
        WORKER_OFFER_EXPIRED,
        worker_id=worker_id,
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        offer_id=offer_id,
    )


# ---------------------------------------------------------------------------------------- worker events


def _worker_profile(
    *,
    worker_id: str,
    queue_assignments: Iterable[Mapping[str, Any]],
    channel_configurations: Iterable[Mapping[str, Any]],
    total_capacity: int | None,
    labels: Mapping[str, Any],
    tags: Mapping[str, Any],
) -> JsonObject:
    data: JsonObject = {
        "workerId": worker_id,
        "queueAssignments": [queue_details(q) for q in queue_assignments],
        "channelConfigurations": [channel_configuration(c) for c in channel_configurations],
    }
    _put(data, "totalCapacity", total_capacity)
    data["labels"] = dict(labels)
    data["tags"] = dict(tags)
    return data


def worker_registered(
    *,
    worker_id: str,
    queue_assignments: Sequence[Mapping[str, Any]],
    channel_configurations: Sequence[Mapping[str, Any]],
    total_capacity: int | None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterWorkerRegistered: the worker became available for offers.

    ``queue_assignments`` are queues (``{id, name?, labels}``, REST queue objects are fine: see
    :func:`queue_details`); ``channel_configurations`` are REST worker channels.
    """
    data = _worker_profile(
        worker_id=worker_id,
        queue_assignments=queue_assignments,
        channel_configurations=channel_configurations,
        total_capacity=total_capacity,
        labels=labels,
        tags=tags,
    )
    return RouterEvent(WORKER_REGISTERED, f"worker/{worker_id}", data)


def worker_updated(
    *,
    worker_id: str,
    queue_assignments: Sequence[Mapping[str, Any]],
    channel_configurations: Sequence[Mapping[str, Any]],
    total_capacity: int | None,
    updated_worker_properties: Sequence[str],
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterWorkerUpdated: a registered worker's profile changed; lists which properties changed."""
    unknown = [p for p in updated_worker_properties if p not in UPDATED_WORKER_PROPERTIES]
    if unknown:
        raise ValueError(
            f"unknown updated_worker_properties {unknown!r}; "
            f"expected some of {sorted(UPDATED_WORKER_PROPERTIES)}"
        )
    data = _worker_profile(
        worker_id=worker_id,
        queue_assignments=queue_assignments,
        channel_configurations=channel_configurations,
        total_capacity=total_capacity,
        labels=labels,
        tags=tags,
    )
    data["updatedWorkerProperties"] = list(updated_worker_properties)
    return RouterEvent(WORKER_UPDATED, f"worker/{worker_id}", data)


def worker_deregistered(*, worker_id: str) -> RouterEvent:
    """RouterWorkerDeregistered: the worker stopped receiving offers (asked to, or after an expired offer)."""
    return RouterEvent(WORKER_DEREGISTERED, f"worker/{worker_id}", {"workerId": worker_id})


def worker_deleted(
    *,
    worker_id: str,
    job_id: str | None = None,
    channel_reference: str | None = None,
    channel_id: str | None = None,
) -> RouterEvent:
    """RouterWorkerDeleted: the worker resource was deleted (schema: worker base fields only)."""
    data: JsonObject = {"workerId": worker_id}
    _put(data, "jobId", job_id)
    _put(data, "channelReference", channel_reference)
    _put(data, "channelId", channel_id)
    return RouterEvent(WORKER_DELETED, f"worker/{worker_id}", data)


# ------------------------------------------------------------------------------------------- job events


def job_received(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    job_status: str,
    unavailable_for_matching: bool,
    queue_id: str | None = None,
    classification_policy_id: str | None = None,
    priority: int | None = None,
    requested_worker_selectors: Sequence[Mapping[str, Any]] = (),
    scheduled_on: datetime | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobReceived: a job was created. ``job_status`` may be REST camelCase; it is sent PascalCase."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    data["jobStatus"] = job_status_pascal(job_status)
    _put(data, "classificationPolicyId", classification_policy_id)
    _put(data, "priority", priority)
    data["requestedWorkerSelectors"] = _selectors(requested_worker_selectors)
    if scheduled_on is not None:
        data["scheduledOn"] = format_event_time(scheduled_on, field="scheduled_on")
    data["unavailableForMatching"] = unavailable_for_matching
    return RouterEvent(JOB_RECEIVED, _job_subject(job_id, channel_id), data)


def job_classified(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str,
    queue_details: Mapping[str, Any],
    classification_policy_id: str | None = None,
    priority: int | None = None,
    attached_worker_selectors: Sequence[Mapping[str, Any]] = (),
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobClassified: classification chose a queue, priority and attached selectors.

    ``queue_details`` is the chosen queue (a REST queue object is fine; see :func:`queue_details`).
    """
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    data["queueDetails"] = _queue_details(queue_details)
    _put(data, "classificationPolicyId", classification_policy_id)
    _put(data, "priority", priority)
    data["attachedWorkerSelectors"] = _selectors(attached_worker_selectors)
    return RouterEvent(JOB_CLASSIFIED, _job_subject(job_id, channel_id, ("queue", queue_id)), data)


_queue_details = queue_details  # job_classified's parameter shadows the helper's name


def job_queued(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str,
    priority: int | None = None,
    attached_worker_selectors: Sequence[Mapping[str, Any]] = (),
    requested_worker_selectors: Sequence[Mapping[str, Any]] = (),
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobQueued: the job entered its queue and is eligible for matching."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    _put(data, "priority", priority)
    data["attachedWorkerSelectors"] = _selectors(attached_worker_selectors)
    data["requestedWorkerSelectors"] = _selectors(requested_worker_selectors)
    return RouterEvent(JOB_QUEUED, _job_subject(job_id, channel_id, ("queue", queue_id)), data)


def job_classification_failed(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    classification_policy_id: str,
    errors: Sequence[Mapping[str, Any]],
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobClassificationFailed: ``errors`` are ``{code?, message?, target?, innererror?, details?}``."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    data["classificationPolicyId"] = classification_policy_id
    data["errors"] = [{k: v for k, v in e.items() if v is not None} for e in errors]
    subject = _job_subject(job_id, channel_id, ("classificationpolicy", classification_policy_id))
    return RouterEvent(JOB_CLASSIFICATION_FAILED, subject, data)


def _assignment_event(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None,
    assignment_id: str,
    worker_id: str | None,
    labels: Mapping[str, Any],
    tags: Mapping[str, Any],
) -> tuple[JsonObject, str]:
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    data["assignmentId"] = assignment_id
    _put(data, "workerId", worker_id)
    subject = _job_subject(job_id, channel_id, ("assignment", assignment_id))
    return data, subject


def job_completed(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    assignment_id: str,
    worker_id: str | None,
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobCompleted: the assignment was completed (wrap-up begins)."""
    data, subject = _assignment_event(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        assignment_id=assignment_id,
        worker_id=worker_id,
        labels=labels,
        tags=tags,
    )
    return RouterEvent(JOB_COMPLETED, subject, data)


def job_closed(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    assignment_id: str,
    worker_id: str | None,
    disposition_code: str | None = None,
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobClosed: the assignment was closed and the worker's capacity released."""
    data, subject = _assignment_event(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        assignment_id=assignment_id,
        worker_id=worker_id,
        labels=labels,
        tags=tags,
    )
    _put(data, "dispositionCode", disposition_code)
    return RouterEvent(JOB_CLOSED, subject, data)


def job_unassigned(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    assignment_id: str,
    worker_id: str | None,
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobUnassigned: the assignment was undone; the job goes back to its queue unless suspended."""
    data, subject = _assignment_event(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        assignment_id=assignment_id,
        worker_id=worker_id,
        labels=labels,
        tags=tags,
    )
    return RouterEvent(JOB_UNASSIGNED, subject, data)


def job_cancelled(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    disposition_code: str | None,
    note: str | None = None,
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobCancelled: the job was cancelled (by request or an exception policy)."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    _put(data, "note", note)
    _put(data, "dispositionCode", disposition_code)
    subject = _job_subject(job_id, channel_id, ("disposition", disposition_code))
    return RouterEvent(JOB_CANCELLED, subject, data)


def job_exception_triggered(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    rule_key: str,
    exception_rule_id: str | None = None,
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobExceptionTriggered: an exception rule's trigger fired for the job."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    data["ruleKey"] = rule_key
    _put(data, "exceptionRuleId", exception_rule_id)
    subject = _job_subject(job_id, channel_id, ("exceptionrule", rule_key))
    return RouterEvent(JOB_EXCEPTION_TRIGGERED, subject, data)


def job_worker_selectors_expired(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str,
    expired_requested_worker_selectors: Sequence[Mapping[str, Any]] = (),
    expired_attached_worker_selectors: Sequence[Mapping[str, Any]] = (),
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobWorkerSelectorsExpired: some of the job's selectors reached ``expiresAfterSeconds``."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    data["expiredRequestedWorkerSelectors"] = _selectors(expired_requested_worker_selectors)
    data["expiredAttachedWorkerSelectors"] = _selectors(expired_attached_worker_selectors)
    subject = _job_subject(job_id, channel_id, ("queue", queue_id))
    return RouterEvent(JOB_WORKER_SELECTORS_EXPIRED, subject, data)


def job_waiting_for_activation(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    scheduled_on: datetime | None,
    unavailable_for_matching: bool,
    priority: int | None = None,
    expired_attached_worker_selectors: Sequence[Mapping[str, Any]] = (),
    expired_requested_worker_selectors: Sequence[Mapping[str, Any]] = (),
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobWaitingForActivation: a scheduled job reached its time and waits to be queued."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    _put(data, "priority", priority)
    data["expiredAttachedWorkerSelectors"] = _selectors(expired_attached_worker_selectors)
    data["expiredRequestedWorkerSelectors"] = _selectors(expired_requested_worker_selectors)
    if scheduled_on is not None:
        data["scheduledOn"] = format_event_time(scheduled_on, field="scheduled_on")
    data["unavailableForMatching"] = unavailable_for_matching
    return RouterEvent(JOB_WAITING_FOR_ACTIVATION, _job_subject(job_id, channel_id), data)


def job_scheduling_failed(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    scheduled_on: datetime | None,
    failure_reason: str | None = None,
    priority: int | None = None,
    expired_attached_worker_selectors: Sequence[Mapping[str, Any]] = (),
    expired_requested_worker_selectors: Sequence[Mapping[str, Any]] = (),
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobSchedulingFailed: a scheduled job could not be scheduled."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    _put(data, "priority", priority)
    data["expiredAttachedWorkerSelectors"] = _selectors(expired_attached_worker_selectors)
    data["expiredRequestedWorkerSelectors"] = _selectors(expired_requested_worker_selectors)
    if scheduled_on is not None:
        data["scheduledOn"] = format_event_time(scheduled_on, field="scheduled_on")
    _put(data, "failureReason", failure_reason)
    return RouterEvent(JOB_SCHEDULING_FAILED, _job_subject(job_id, channel_id), data)


def job_deleted(
    *,
    job_id: str,
    channel_reference: str | None,
    channel_id: str | None,
    queue_id: str | None = None,
    labels: Mapping[str, Any] = _EMPTY,
    tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterJobDeleted: the job resource was deleted."""
    data = _job_base(
        job_id=job_id,
        channel_reference=channel_reference,
        channel_id=channel_id,
        queue_id=queue_id,
        labels=labels,
        tags=tags,
    )
    return RouterEvent(JOB_DELETED, _job_subject(job_id, channel_id), data)
