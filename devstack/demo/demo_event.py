"""Router events as the demo sees them: one frozen type for both Event Grid and CloudEvents envelopes.

Events reach the orchestrator twice: live, through its own webhook (either schema), and at the end from the
emulator's event log (``GET /admin/events``, Event Grid schema). Both are parsed here, and only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from devstack.jobrouter import event_types as router
from devstack.jobrouter.eventgrid import VALIDATION_EVENT_TYPE

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

# Short names (no ``Microsoft.Communication.`` prefix) of the emulator's own event type constants.
OFFER_ISSUED: Final = router.short_event_type(router.WORKER_OFFER_ISSUED)
OFFER_ACCEPTED: Final = router.short_event_type(router.WORKER_OFFER_ACCEPTED)
OFFER_DECLINED: Final = router.short_event_type(router.WORKER_OFFER_DECLINED)
OFFER_REVOKED: Final = router.short_event_type(router.WORKER_OFFER_REVOKED)
OFFER_EXPIRED: Final = router.short_event_type(router.WORKER_OFFER_EXPIRED)
WORKER_REGISTERED: Final = router.short_event_type(router.WORKER_REGISTERED)
WORKER_DEREGISTERED: Final = router.short_event_type(router.WORKER_DEREGISTERED)
JOB_CLOSED: Final = router.short_event_type(router.JOB_CLOSED)
JOB_COMPLETED: Final = router.short_event_type(router.JOB_COMPLETED)


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
        """The event's ``offerId`` (None when it has none)."""
        return self.text("offerId")

    @property
    def job_id(self) -> str | None:
        """The event's ``jobId`` (None when it has none)."""
        return self.text("jobId")

    @property
    def worker_id(self) -> str | None:
        """The event's ``workerId`` (None when it has none)."""
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
        type=router.short_event_type(full_type),
        subject=subject if isinstance(subject, str) else "",
        time=when,
        data=data,
    )
