"""Router events as the demo sees them: one frozen type for both Event Grid and CloudEvents envelopes.

Events reach the orchestrator twice: live, through its own webhook (either schema), and at the end from the
emulator's event log (``GET /admin/events``, Event Grid schema). Both are parsed here, and only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

__all__ = [
    "JOB_CLOSED",
    "JOB_COMPLETED",
    "OFFER_ACCEPTED",
    "OFFER_DECLINED",
    "OFFER_EXPIRED",
    "OFFER_ISSUED",
    "OFFER_REVOKED",
    "VALIDATION_EVENT_TYPE",
    "WORKER_DEREGISTERED",
    "WORKER_REGISTERED",
    "DemoEvent",
    "parse_envelope",
]

_PREFIX: Final = "Microsoft.Communication."
VALIDATION_EVENT_TYPE: Final = "Microsoft.EventGrid.SubscriptionValidationEvent"

OFFER_ISSUED: Final = "RouterWorkerOfferIssued"
OFFER_ACCEPTED: Final = "RouterWorkerOfferAccepted"
OFFER_DECLINED: Final = "RouterWorkerOfferDeclined"
OFFER_REVOKED: Final = "RouterWorkerOfferRevoked"
OFFER_EXPIRED: Final = "RouterWorkerOfferExpired"
WORKER_REGISTERED: Final = "RouterWorkerRegistered"
WORKER_DEREGISTERED: Final = "RouterWorkerDeregistered"
JOB_CLOSED: Final = "RouterJobClosed"
JOB_COMPLETED: Final = "RouterJobCompleted"


@dataclass(frozen=True, slots=True)
class DemoEvent:
    """One router event. ``type`` is the short name (``RouterWorkerOfferIssued``); ``time`` is aware UTC."""

    id: str
    type: str
    subject: str
    time: datetime
    data: Mapping[str, Any]

    def text(self, key: str) -> str | None:
        """A string field of ``data`` (None when missing or not a string)."""
        value = self.data.get(key)
        return value if isinstance(value, str) else None

    @property
    def offer_id(self) -> str | None:
        return self.text("offerId")

    @property
    def job_id(self) -> str | None:
        return self.text("jobId")

    @property
    def worker_id(self) -> str | None:
        return self.text("workerId")


def parse_envelope(envelope: object) -> DemoEvent:
    """An Event Grid or CloudEvents 1.0 event object; ValueError names what is wrong."""
    if not isinstance(envelope, Mapping):
        raise ValueError(f"an event must be a JSON object, got {type(envelope).__name__}")
    cloud = "specversion" in envelope
    event_id = envelope.get("id")
    full_type = envelope.get("type" if cloud else "eventType")
    raw_time = envelope.get("time" if cloud else "eventTime")
    data = envelope.get("data")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("the event has no id")
    if not isinstance(full_type, str) or not full_type:
        raise ValueError(f"event {event_id} has no {'type' if cloud else 'eventType'}")
    if not isinstance(raw_time, str):
        raise ValueError(f"event {event_id} has no {'time' if cloud else 'eventTime'}")
    try:
        when = datetime.fromisoformat(raw_time)
    except ValueError:
        raise ValueError(f"event {event_id}: time {raw_time!r} is not ISO 8601") from None
    if when.tzinfo is None:
        raise ValueError(f"event {event_id}: time {raw_time!r} has no time zone")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"event {event_id}: data must be a JSON object")
    subject = envelope.get("subject")
    return DemoEvent(
        id=event_id,
        type=full_type.removeprefix(_PREFIX),
        subject=subject if isinstance(subject, str) else "",
        time=when,
        data=data,
    )
