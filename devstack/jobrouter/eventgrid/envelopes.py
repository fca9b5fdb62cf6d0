"""What a webhook receives: Event Grid and CloudEvents 1.0 bodies, their headers, and the validation event.

:class:`PublishedEvent` is a Job Router event with the envelope fields the publisher assigned; the functions
below turn it (or the ``SubscriptionValidation`` handshake event) into the exact bytes and ``aeg-*``
headers of one webhook request, and read the handshake's answer. Pure: no I/O, no clock.
Guide: docs/eventgrid-delivery.md.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from devstack.jobrouter.event_fields import format_event_time

__all__ = [
    "SCHEMAS",
    "VALIDATION_EVENT_TYPE",
    "PublishedEvent",
    "Schema",
    "body",
    "notification_headers",
    "validation_event",
    "validation_headers",
    "validation_response",
]

Schema = Literal["eventgrid", "cloudevents"]
SCHEMAS: Final = ("eventgrid", "cloudevents")

VALIDATION_EVENT_TYPE: Final = "Microsoft.EventGrid.SubscriptionValidationEvent"
_DATA_VERSION: Final = "1.0"
_METADATA_VERSION: Final = "1"
_VALIDATION_DATA_VERSION: Final = "2"


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """A :class:`RouterEvent` with the envelope fields the publisher assigned (id, time, topic)."""

    id: str
    event_type: str
    subject: str
    data: Mapping[str, Any]
    event_time: datetime
    topic: str

    def to_eventgrid(self) -> dict[str, Any]:
        """The Event Grid schema object (a webhook receives a one-element array of these)."""
        return {
            "id": self.id,
            "topic": self.topic,
            "subject": self.subject,
            "data": self.data,
            "eventType": self.event_type,
            "dataVersion": _DATA_VERSION,
            "metadataVersion": _METADATA_VERSION,
            "eventTime": format_event_time(self.event_time),
        }

    def to_cloudevent(self) -> dict[str, Any]:
        """The CloudEvents 1.0 structured-mode JSON object."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": self.topic,
            "subject": self.subject,
            "type": self.event_type,
            "time": format_event_time(self.event_time),
            "datacontenttype": "application/json",
            "data": self.data,
        }

    def envelope(self, schema: Schema) -> dict[str, Any]:
        """The event object in ``schema``."""
        return self.to_cloudevent() if schema == "cloudevents" else self.to_eventgrid()


def body(event: dict[str, Any], schema: Schema) -> bytes:
    """The request body: a one-element array (Event Grid schema) or the bare object (CloudEvents)."""
    payload: Any = event if schema == "cloudevents" else [event]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _content_type(schema: Schema) -> str:
    return "application/cloudevents+json; charset=utf-8" if schema == "cloudevents" else "application/json"


def notification_headers(schema: Schema, subscription_name: str, *, delivery_count: int) -> dict[str, str]:
    """Headers of one event delivery (``aeg-delivery-count`` is the number of earlier attempts)."""
    return {
        "Content-Type": _content_type(schema),
        "aeg-event-type": "Notification",
        "aeg-subscription-name": subscription_name,
        "aeg-delivery-count": str(delivery_count),
        "aeg-data-version": _DATA_VERSION,
        "aeg-metadata-version": _METADATA_VERSION,
    }


def validation_headers(schema: Schema, subscription_name: str) -> dict[str, str]:
    """Headers of the ``SubscriptionValidation`` handshake request."""
    return {
        "Content-Type": _content_type(schema),
        "aeg-event-type": "SubscriptionValidation",
        "aeg-subscription-name": subscription_name,
        "aeg-delivery-count": "0",
        "aeg-data-version": _VALIDATION_DATA_VERSION,
        "aeg-metadata-version": _METADATA_VERSION,
    }


def validation_event(code: str, topic: str, schema: Schema, now: datetime) -> dict[str, Any]:
    """The handshake event carrying ``validationCode``, in ``schema``."""
    event_id = str(uuid.uuid4())
    data = {"validationCode": code}
    if schema == "cloudevents":
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": topic,
            "subject": "",
            "type": VALIDATION_EVENT_TYPE,
            "time": format_event_time(now),
            "datacontenttype": "application/json",
            "data": data,
        }
    return {
        "id": event_id,
        "topic": topic,
        "subject": "",
        "data": data,
        "eventType": VALIDATION_EVENT_TYPE,
        "eventTime": format_event_time(now),
        "metadataVersion": _METADATA_VERSION,
        "dataVersion": _VALIDATION_DATA_VERSION,
    }


def validation_response(raw: bytes) -> str | None:
    """The ``validationResponse`` string of a handshake answer (key case-insensitive), or None."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    for key, value in answer.items():
        if isinstance(key, str) and key.lower() == "validationresponse" and isinstance(value, str):
            return value
    return None
