"""Job Router Event Grid event types: the 22 ``Microsoft.Communication.Router*`` names, :class:`RouterEvent`.

:class:`RouterEvent` is one event before the publisher gives it an envelope: full type name, subject and
wire-JSON ``data``. The payload builders are in :mod:`devstack.jobrouter.event_payloads`; envelopes (id,
eventTime, topic, schema) are the publisher's job (:mod:`devstack.jobrouter.eventgrid`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    "resolve_event_type",
    "short_event_type",
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
