"""Job Router Event Grid payloads: one pure builder per ``Microsoft.Communication.Router*`` event type.

A builder takes the small frozen reference of what the event is about (:class:`JobRef`, :class:`OfferRef`,
:class:`WorkerProfile`) plus the fields of that one event, and returns a :class:`RouterEvent` whose ``data``
is exactly the JSON object the service puts in the event: camelCase keys, datetimes as ISO-8601 UTC strings
with seven fractional digits and ``Z``, optional fields left out when ``None``, label/tag maps always
present (copied: later caller mutation cannot leak into a queued event).

Current field names only (``offeredOn``/``expiresOn``, ``queueDetails``, ``scheduledOn``,
``expiredRequestedWorkerSelectors``, ``updatedWorkerProperties``), and a ``None`` id inside a subject
renders as an empty segment (``job/j1/channel/``): the choices are listed in docs/eventgrid-delivery.md.
Type names are in :mod:`~devstack.jobrouter.event_types`, field encoders in
:mod:`~devstack.jobrouter.event_fields`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from devstack.jobrouter import event_fields, event_types
from devstack.jobrouter.event_types import RouterEvent

__all__ = [
    "JobRef",
    "OfferRef",
    "WorkerProfile",
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
    "job_unassigned",
    "job_waiting_for_activation",
    "job_worker_selectors_expired",
    "offer_accepted",
    "offer_declined",
    "offer_expired",
    "offer_issued",
    "offer_revoked",
    "worker_deleted",
    "worker_deregistered",
    "worker_registered",
    "worker_updated",
]

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})

JsonObject = dict[str, Any]
Selectors = Sequence[Mapping[str, Any]]


# ------------------------------------------------------------------------------------------ references


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRef:
    """The job fields every ``RouterJob*`` event carries (``jobId`` ... ``labels``, ``tags``)."""

    job_id: str
    channel_reference: str | None = None
    channel_id: str | None = None
    queue_id: str | None = None
    labels: Mapping[str, Any] = _EMPTY
    tags: Mapping[str, Any] = _EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferRef:
    """The ids every ``RouterWorkerOffer*`` event carries (worker, job, channel, queue, offer)."""

    worker_id: str
    job_id: str
    offer_id: str
    channel_reference: str | None = None
    channel_id: str | None = None
    queue_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerProfile:
    """What RouterWorkerRegistered and RouterWorkerUpdated say about the worker.

    ``queue_assignments`` are queues (``{id, name?, labels}``; REST queue objects are fine, see
    :func:`~devstack.jobrouter.event_fields.queue_details`); ``channel_configurations`` are REST worker
    channels.
    """

    worker_id: str
    queue_assignments: Sequence[Mapping[str, Any]]
    channel_configurations: Sequence[Mapping[str, Any]]
    total_capacity: int | None
    labels: Mapping[str, Any] = _EMPTY
    tags: Mapping[str, Any] = _EMPTY


# --------------------------------------------------------------------------------------------- helpers


def _put(data: JsonObject, key: str, value: Any) -> None:
    """Set an optional field: None means absent on the wire."""
    if value is not None:
        data[key] = value


def _selectors(selectors: Iterable[Mapping[str, Any]]) -> list[JsonObject]:
    return [event_fields.event_worker_selector(s) for s in selectors]


def _seg(value: str | None) -> str:
    return "" if value is None else value


def _job_subject(job: JobRef, *tail: tuple[str, str | None]) -> str:
    parts = [f"job/{job.job_id}/channel/{_seg(job.channel_id)}"]
    parts.extend(f"{name}/{_seg(value)}" for name, value in tail)
    return "/".join(parts)


def _job_data(job: JobRef) -> JsonObject:
    data: JsonObject = {"jobId": job.job_id}
    _put(data, "channelReference", job.channel_reference)
    _put(data, "channelId", job.channel_id)
    _put(data, "queueId", job.queue_id)
    data["labels"] = dict(job.labels)
    data["tags"] = dict(job.tags)
    return data


def _offer_data(offer: OfferRef) -> JsonObject:
    data: JsonObject = {"workerId": offer.worker_id, "jobId": offer.job_id}
    _put(data, "channelReference", offer.channel_reference)
    _put(data, "channelId", offer.channel_id)
    _put(data, "queueId", offer.queue_id)
    data["offerId"] = offer.offer_id
    return data


def _offer_subject(offer: OfferRef) -> str:
    return f"worker/{offer.worker_id}/job/{offer.job_id}"


def _put_label_maps(
    data: JsonObject,
    job_labels: Mapping[str, Any],
    job_tags: Mapping[str, Any],
    worker_labels: Mapping[str, Any],
    worker_tags: Mapping[str, Any],
) -> None:
    data["jobLabels"] = dict(job_labels)
    data["jobTags"] = dict(job_tags)
    data["workerLabels"] = dict(worker_labels)
    data["workerTags"] = dict(worker_tags)


# ----------------------------------------------------------------------------------------- offer events


def offer_issued(
    offer: OfferRef,
    *,
    job_priority: int | None,
    offered_on: datetime,
    expires_on: datetime,
    job_labels: Mapping[str, Any] = _EMPTY,
    job_tags: Mapping[str, Any] = _EMPTY,
    worker_labels: Mapping[str, Any] = _EMPTY,
    worker_tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterWorkerOfferIssued: an offer was sent to a worker."""
    data = _offer_data(offer)
    data["offeredOn"] = event_fields.format_event_time(offered_on, field="offered_on")
    data["expiresOn"] = event_fields.format_event_time(expires_on, field="expires_on")
    _put(data, "jobPriority", job_priority)
    _put_label_maps(data, job_labels, job_tags, worker_labels, worker_tags)
    return RouterEvent(event_types.WORKER_OFFER_ISSUED, _offer_subject(offer), data)


def offer_accepted(
    offer: OfferRef,
    *,
    assignment_id: str,
    job_priority: int | None,
    job_labels: Mapping[str, Any] = _EMPTY,
    job_tags: Mapping[str, Any] = _EMPTY,
    worker_labels: Mapping[str, Any] = _EMPTY,
    worker_tags: Mapping[str, Any] = _EMPTY,
) -> RouterEvent:
    """RouterWorkerOfferAccepted: the worker accepted; carries the new assignment id."""
    data = _offer_data(offer)
    _put(data, "jobPriority", job_priority)
    data["assignmentId"] = assignment_id
    _put_label_maps(data, job_labels, job_tags, worker_labels, worker_tags)
    return RouterEvent(event_types.WORKER_OFFER_ACCEPTED, _offer_subject(offer), data)


def offer_declined(offer: OfferRef) -> RouterEvent:
    """RouterWorkerOfferDeclined: the worker declined the offer."""
    return RouterEvent(event_types.WORKER_OFFER_DECLINED, _offer_subject(offer), _offer_data(offer))


def offer_revoked(offer: OfferRef) -> RouterEvent:
    """RouterWorkerOfferRevoked: the offer was withdrawn (job taken or gone, worker deregistered)."""
    return RouterEvent(event_types.WORKER_OFFER_REVOKED, _offer_subject(offer), _offer_data(offer))


def offer_expired(offer: OfferRef) -> RouterEvent:
    """RouterWorkerOfferExpired: the offer was neither accepted nor declined in time."""
    return RouterEvent(event_types.WORKER_OFFER_EXPIRED, _offer_subject(offer), _offer_data(offer))


# ---------------------------------------------------------------------------------------- worker events


def _profile_data(profile: WorkerProfile) -> JsonObject:
    data: JsonObject = {
        "workerId": profile.worker_id,
        "queueAssignments": [event_fields.queue_details(q) for q in profile.queue_assignments],
        "channelConfigurations": [
            event_fields.channel_configuration(c) for c in profile.channel_configurations
        ],
    }
    _put(data, "totalCapacity", profile.total_capacity)
    data["labels"] = dict(profile.labels)
    data["tags"] = dict(profile.tags)
    return data


def worker_registered(profile: WorkerProfile) -> RouterEvent:
    """RouterWorkerRegistered: the worker became available for offers."""
    return RouterEvent(event_types.WORKER_REGISTERED, f"worker/{profile.worker_id}", _profile_data(profile))


def worker_updated(profile: WorkerProfile, *, updated_worker_properties: Sequence[str]) -> RouterEvent:
    """RouterWorkerUpdated: a registered worker's profile changed; lists which properties changed."""
    unknown = [p for p in updated_worker_properties if p not in event_types.UPDATED_WORKER_PROPERTIES]
    if unknown:
        raise ValueError(
            f"unknown updated_worker_properties {unknown!r}; "
            f"expected some of {sorted(event_types.UPDATED_WORKER_PROPERTIES)}"
        )
    data = _profile_data(profile)
    data["updatedWorkerProperties"] = list(updated_worker_properties)
    return RouterEvent(event_types.WORKER_UPDATED, f"worker/{profile.worker_id}", data)


def worker_deregistered(*, worker_id: str) -> RouterEvent:
    """RouterWorkerDeregistered: the worker stopped receiving offers (asked to, or after an expired offer)."""
    return RouterEvent(event_types.WORKER_DEREGISTERED, f"worker/{worker_id}", {"workerId": worker_id})


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
    return RouterEvent(event_types.WORKER_DELETED, f"worker/{worker_id}", data)


# ------------------------------------------------------------------------------------------- job events


def job_received(
    job: JobRef,
    *,
    job_status: str,
    unavailable_for_matching: bool,
    classification_policy_id: str | None = None,
    priority: int | None = None,
    requested_worker_selectors: Selectors = (),
    scheduled_on: datetime | None = None,
) -> RouterEvent:
    """RouterJobReceived: a job was created. ``job_status`` may be REST camelCase; it is sent PascalCase."""
    data = _job_data(job)
    data["jobStatus"] = event_fields.job_status_pascal(job_status)
    _put(data, "classificationPolicyId", classification_policy_id)
    _put(data, "priority", priority)
    data["requestedWorkerSelectors"] = _selectors(requested_worker_selectors)
    if scheduled_on is not None:
        data["scheduledOn"] = event_fields.format_event_time(scheduled_on, field="scheduled_on")
    data["unavailableForMatching"] = unavailable_for_matching
    return RouterEvent(event_types.JOB_RECEIVED, _job_subject(job), data)


def job_classified(
    job: JobRef,
    *,
    queue_details: Mapping[str, Any],
    classification_policy_id: str | None = None,
    priority: int | None = None,
    attached_worker_selectors: Selectors = (),
) -> RouterEvent:
    """RouterJobClassified: classification chose a queue (``job.queue_id``), priority and attached selectors.

    ``queue_details`` is the chosen queue (a REST queue object is fine, see ``event_fields.queue_details``).
    """
    data = _job_data(job)
    data["queueDetails"] = event_fields.queue_details(queue_details)
    _put(data, "classificationPolicyId", classification_policy_id)
    _put(data, "priority", priority)
    data["attachedWorkerSelectors"] = _selectors(attached_worker_selectors)
    return RouterEvent(event_types.JOB_CLASSIFIED, _job_subject(job, ("queue", job.queue_id)), data)


def job_queued(
    job: JobRef,
    *,
    priority: int | None = None,
    attached_worker_selectors: Selectors = (),
    requested_worker_selectors: Selectors = (),
) -> RouterEvent:
    """RouterJobQueued: the job entered its queue (``job.queue_id``) and is eligible for matching."""
    data = _job_data(job)
    _put(data, "priority", priority)
    data["attachedWorkerSelectors"] = _selectors(attached_worker_selectors)
    data["requestedWorkerSelectors"] = _selectors(requested_worker_selectors)
    return RouterEvent(event_types.JOB_QUEUED, _job_subject(job, ("queue", job.queue_id)), data)


def job_classification_failed(
    job: JobRef, *, classification_policy_id: str, errors: Sequence[Mapping[str, Any]]
) -> RouterEvent:
    """RouterJobClassificationFailed: ``errors`` are ``{code?, message?, target?, innererror?, details?}``."""
    data = _job_data(job)
    data["classificationPolicyId"] = classification_policy_id
    data["errors"] = [{k: v for k, v in e.items() if v is not None} for e in errors]
    subject = _job_subject(job, ("classificationpolicy", classification_policy_id))
    return RouterEvent(event_types.JOB_CLASSIFICATION_FAILED, subject, data)


def _assignment_data(job: JobRef, assignment_id: str, worker_id: str | None) -> JsonObject:
    data = _job_data(job)
    data["assignmentId"] = assignment_id
    _put(data, "workerId", worker_id)
    return data


def job_completed(job: JobRef, *, assignment_id: str, worker_id: str | None) -> RouterEvent:
    """RouterJobCompleted: the assignment was completed (wrap-up begins)."""
    data = _assignment_data(job, assignment_id, worker_id)
    return RouterEvent(event_types.JOB_COMPLETED, _job_subject(job, ("assignment", assignment_id)), data)


def job_closed(
    job: JobRef, *, assignment_id: str, worker_id: str | None, disposition_code: str | None = None
) -> RouterEvent:
    """RouterJobClosed: the assignment was closed and the worker's capacity released."""
    data = _assignment_data(job, assignment_id, worker_id)
    _put(data, "dispositionCode", disposition_code)
    return RouterEvent(event_types.JOB_CLOSED, _job_subject(job, ("assignment", assignment_id)), data)


def job_unassigned(job: JobRef, *, assignment_id: str, worker_id: str | None) -> RouterEvent:
    """RouterJobUnassigned: the assignment was undone; the job goes back to its queue unless suspended."""
    data = _assignment_data(job, assignment_id, worker_id)
    return RouterEvent(event_types.JOB_UNASSIGNED, _job_subject(job, ("assignment", assignment_id)), data)


def job_cancelled(job: JobRef, *, disposition_code: str | None, note: str | None = None) -> RouterEvent:
    """RouterJobCancelled: the job was cancelled (by request or an exception policy)."""
    data = _job_data(job)
    _put(data, "note", note)
    _put(data, "dispositionCode", disposition_code)
    return RouterEvent(event_types.JOB_CANCELLED, _job_subject(job, ("disposition", disposition_code)), data)


def job_exception_triggered(
    job: JobRef, *, rule_key: str, exception_rule_id: str | None = None
) -> RouterEvent:
    """RouterJobExceptionTriggered: an exception rule's trigger fired for the job."""
    data = _job_data(job)
    data["ruleKey"] = rule_key
    _put(data, "exceptionRuleId", exception_rule_id)
    return RouterEvent(
        event_types.JOB_EXCEPTION_TRIGGERED, _job_subject(job, ("exceptionrule", rule_key)), data
    )


def job_worker_selectors_expired(
    job: JobRef,
    *,
    expired_requested_worker_selectors: Selectors = (),
    expired_attached_worker_selectors: Selectors = (),
) -> RouterEvent:
    """RouterJobWorkerSelectorsExpired: some of the job's selectors reached ``expiresAfterSeconds``."""
    data = _job_data(job)
    data["expiredRequestedWorkerSelectors"] = _selectors(expired_requested_worker_selectors)
    data["expiredAttachedWorkerSelectors"] = _selectors(expired_attached_worker_selectors)
    return RouterEvent(
        event_types.JOB_WORKER_SELECTORS_EXPIRED, _job_subject(job, ("queue", job.queue_id)), data
    )


def _suspended_job_data(
    job: JobRef,
    priority: int | None,
    expired_attached_worker_selectors: Selectors,
    expired_requested_worker_selectors: Selectors,
    scheduled_on: datetime | None,
) -> JsonObject:
    data = _job_data(job)
    _put(data, "priority", priority)
    data["expiredAttachedWorkerSelectors"] = _selectors(expired_attached_worker_selectors)
    data["expiredRequestedWorkerSelectors"] = _selectors(expired_requested_worker_selectors)
    if scheduled_on is not None:
        data["scheduledOn"] = event_fields.format_event_time(scheduled_on, field="scheduled_on")
    return data


def job_waiting_for_activation(
    job: JobRef,
    *,
    scheduled_on: datetime | None,
    unavailable_for_matching: bool,
    priority: int | None = None,
    expired_attached_worker_selectors: Selectors = (),
    expired_requested_worker_selectors: Selectors = (),
) -> RouterEvent:
    """RouterJobWaitingForActivation: a scheduled job reached its time and waits to be queued."""
    data = _suspended_job_data(
        job, priority, expired_attached_worker_selectors, expired_requested_worker_selectors, scheduled_on
    )
    data["unavailableForMatching"] = unavailable_for_matching
    return RouterEvent(event_types.JOB_WAITING_FOR_ACTIVATION, _job_subject(job), data)


def job_scheduling_failed(
    job: JobRef,
    *,
    scheduled_on: datetime | None,
    failure_reason: str | None = None,
    priority: int | None = None,
    expired_attached_worker_selectors: Selectors = (),
    expired_requested_worker_selectors: Selectors = (),
) -> RouterEvent:
    """RouterJobSchedulingFailed: a scheduled job could not be scheduled."""
    data = _suspended_job_data(
        job, priority, expired_attached_worker_selectors, expired_requested_worker_selectors, scheduled_on
    )
    _put(data, "failureReason", failure_reason)
    return RouterEvent(event_types.JOB_SCHEDULING_FAILED, _job_subject(job), data)


def job_deleted(job: JobRef) -> RouterEvent:
    """RouterJobDeleted: the job resource was deleted."""
    return RouterEvent(event_types.JOB_DELETED, _job_subject(job), _job_data(job))
