"""Parsing at the edge: a delivered event (either schema) becomes a frozen, typed value.

An offer-issued event becomes an ``Offer``; a worker lifecycle event (offer expired, worker
deregistered) an ``OfferExpired`` or a ``WorkerDeregistered``. This is the only module that knows the
events' wire names (``workerId``, ``offeredOn``, ``expiryTimeUtc``, ...). Everything past it sees
snake_case fields and aware UTC datetimes, never a dict. A malformed payload raises
``InvalidEventError`` naming the field; nothing else escapes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final, Literal

from offer_handlers.errors import InvalidEventError

__all__ = [
    "OFFER_EXPIRED",
    "OFFER_ISSUED",
    "WORKER_DEREGISTERED",
    "WORKER_LIFECYCLE_EVENT_TYPES",
    "Envelope",
    "LabelValue",
    "Offer",
    "OfferExpired",
    "OfferIds",
    "Schema",
    "WorkerDeregistered",
    "WorkerLifecycleEvent",
    "envelopes_from_json",
    "is_offer_issued",
    "is_worker_lifecycle",
    "parse_offer",
    "parse_worker_lifecycle",
    "peek_ids",
]

OFFER_ISSUED: Final = "Microsoft.Communication.RouterWorkerOfferIssued"
OFFER_EXPIRED: Final = "Microsoft.Communication.RouterWorkerOfferExpired"
WORKER_DEREGISTERED: Final = "Microsoft.Communication.RouterWorkerDeregistered"
# The events on_worker_lifecycle acts on (its Event Grid subscription filters to exactly these).
WORKER_LIFECYCLE_EVENT_TYPES: Final = (OFFER_EXPIRED, WORKER_DEREGISTERED)

type Schema = Literal["eventgrid", "cloudevents"]
type LabelValue = str | int | float | bool

# Ids end up in URL paths and log lines; real ones are GUIDs or short names.
_MAX_ID_LENGTH: Final = 1024
# The field-name generations: the current schema first, then the names older docs and samples use.
_OFFERED_AT_KEYS: Final = ("offeredOn", "offerTimeUtc")
_EXPIRES_AT_KEYS: Final = ("expiresOn", "expiryTimeUtc")
_EMPTY: Final[Mapping[str, LabelValue]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Envelope:
    """The schema-independent part of a delivered event: what the trigger object carries."""

    schema: Schema
    event_id: object
    event_type: object
    subject: object
    data: object


@dataclass(frozen=True, slots=True)
class Offer:
    """A ``RouterWorkerOfferIssued`` event, parsed and validated."""

    event_id: str
    offer_id: str
    worker_id: str
    job_id: str
    expires_at: datetime
    offered_at: datetime | None = None
    queue_id: str | None = None
    channel_id: str | None = None
    channel_reference: str | None = None
    job_priority: int | None = None
    job_labels: Mapping[str, LabelValue] = _EMPTY
    job_tags: Mapping[str, LabelValue] = _EMPTY
    worker_labels: Mapping[str, LabelValue] = _EMPTY
    worker_tags: Mapping[str, LabelValue] = _EMPTY


@dataclass(frozen=True, slots=True)
class OfferExpired:
    """A ``RouterWorkerOfferExpired`` event: the worker let an offer expire (Job Router deregisters it)."""

    event_id: str
    worker_id: str
    offer_id: str | None = None
    job_id: str | None = None
    queue_id: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerDeregistered:
    """A ``RouterWorkerDeregistered`` event: the worker no longer receives offers."""

    event_id: str
    worker_id: str


type WorkerLifecycleEvent = OfferExpired | WorkerDeregistered


@dataclass(frozen=True, slots=True)
class OfferIds:
    """Whatever ids could be read from an event, even a malformed one (for log lines)."""

    event_id: str | None = None
    offer_id: str | None = None
    job_id: str | None = None
    worker_id: str | None = None


def is_offer_issued(envelope: Envelope) -> bool:
    """Whether the event is a ``RouterWorkerOfferIssued`` (anything else is acknowledged and ignored)."""
    return envelope.event_type == OFFER_ISSUED


def is_worker_lifecycle(envelope: Envelope) -> bool:
    """Whether the event is a ``RouterWorkerOfferExpired`` or a ``RouterWorkerDeregistered``."""
    return envelope.event_type in WORKER_LIFECYCLE_EVENT_TYPES


def envelopes_from_json(body: object) -> tuple[Envelope, ...]:
    """Split a delivery body (an Event Grid array, one event, a CloudEvents object/array) into envelopes."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise InvalidEventError("an empty array holds no event", field="(body)")
    envelopes = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidEventError(f"expected a JSON object, got {_kind(item)}", field=f"[{index}]")
        if "specversion" in item:  # how azure-functions tells the schemas apart, so do the same
            envelopes.append(
                Envelope(
                    "cloudevents", item.get("id"), item.get("type"), item.get("subject"), item.get("data")
                )
            )
        else:
            envelopes.append(
                Envelope(
                    "eventgrid", item.get("id"), item.get("eventType"), item.get("subject"), item.get("data")
                )
            )
    return tuple(envelopes)


def peek_ids(envelope: Envelope) -> OfferIds:
    """Read the ids a log line needs without validating anything; never raises."""
    data = _data_or_none(envelope.data)

    def text(value: object) -> str | None:
        return value if isinstance(value, str) and value else None

    if data is None:
        return OfferIds(event_id=text(envelope.event_id))
    return OfferIds(
        event_id=text(envelope.event_id),
        offer_id=text(data.get("offerId")),
        job_id=text(data.get("jobId")),
        worker_id=text(data.get("workerId")),
    )


def parse_offer(envelope: Envelope) -> Offer:
    """Validate an offer-issued event and return the typed offer; raises ``InvalidEventError``."""
    event_id = envelope.event_id
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEventError("the event has no id", field="id")
    if not is_offer_issued(envelope):
        field = "type" if envelope.schema == "cloudevents" else "eventType"
        raise InvalidEventError(f"expected {OFFER_ISSUED!r}", field=field, event_id=event_id)
    data = _data_or_none(envelope.data)
    if data is None:
        raise InvalidEventError(
            f"expected a JSON object, got {_kind(envelope.data)}", field="data", event_id=event_id
        )
    fields = _Fields(data, event_id)
    return Offer(
        event_id=event_id,
        offer_id=fields.required_id("offerId"),
        worker_id=fields.required_id("workerId"),
        job_id=fields.required_id("jobId"),
        expires_at=fields.required_time(_EXPIRES_AT_KEYS),
        offered_at=fields.optional_time(_OFFERED_AT_KEYS),
        queue_id=fields.optional_str("queueId"),
        channel_id=fields.optional_str("channelId"),
        channel_reference=fields.optional_str("channelReference"),
        job_priority=fields.optional_int("jobPriority"),
        job_labels=fields.labels("jobLabels"),
        job_tags=fields.labels("jobTags"),
        worker_labels=fields.labels("workerLabels"),
        worker_tags=fields.labels("workerTags"),
    )


def parse_worker_lifecycle(envelope: Envelope) -> WorkerLifecycleEvent:
    """Validate an offer-expired or worker-deregistered event; raises ``InvalidEventError``.

    The schema marks every field optional, so only the worker id is required; when ``data`` lacks it,
    it is read from the subject (``worker/{workerId}`` or ``worker/{workerId}/job/{jobId}``).
    """
    event_id = envelope.event_id
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEventError("the event has no id", field="id")
    if not is_worker_lifecycle(envelope):
        field = "type" if envelope.schema == "cloudevents" else "eventType"
        expected = " or ".join(repr(t) for t in WORKER_LIFECYCLE_EVENT_TYPES)
        raise InvalidEventError(f"expected {expected}", field=field, event_id=event_id)
    data = _data_or_none(envelope.data)
    if data is None:
        raise InvalidEventError(
            f"expected a JSON object, got {_kind(envelope.data)}", field="data", event_id=event_id
        )
    fields = _Fields(data, event_id)
    if data.get("workerId") is not None:
        worker_id = fields.required_id("workerId")
    else:
        from_subject = _worker_from_subject(envelope.subject)
        if from_subject is None:
            raise InvalidEventError(
                "missing (and the subject names no worker)", field="data.workerId", event_id=event_id
            )
        worker_id = from_subject
    if envelope.event_type == WORKER_DEREGISTERED:
        return WorkerDeregistered(event_id=event_id, worker_id=worker_id)
    return OfferExpired(
        event_id=event_id,
        worker_id=worker_id,
        offer_id=fields.optional_str("offerId"),
        job_id=fields.optional_str("jobId"),
        queue_id=fields.optional_str("queueId"),
        channel_id=fields.optional_str("channelId"),
    )


def _worker_from_subject(subject: object) -> str | None:
    if not isinstance(subject, str):
        return None
    parts = subject.split("/")
    if len(parts) >= 2 and parts[0] == "worker" and parts[1].strip() and len(parts[1]) <= _MAX_ID_LENGTH:
        return parts[1]
    return None


def _data_or_none(data: object) -> dict[str, object] | None:
    # Some publishers double-encode `data` as a JSON string; accept that when it holds an object.
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            return None
    return data if isinstance(data, dict) else None


_KINDS: Final[dict[type, str]] = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _kind(value: object) -> str:
    return _KINDS.get(type(value), type(value).__name__)


class _Fields:
    """Typed reads of ``data`` fields; every failure names the field as ``data.<wireName>``."""

    __slots__ = ("_data", "_event_id")

    def __init__(self, data: dict[str, object], event_id: str) -> None:
        self._data = data
        self._event_id = event_id

    def _fail(self, key: str, message: str) -> InvalidEventError:
        return InvalidEventError(message, field=f"data.{key}", event_id=self._event_id)

    def required_id(self, key: str) -> str:
        value = self._data.get(key)
        if value is None:
            raise self._fail(key, "missing")
        if not isinstance(value, str):
            raise self._fail(key, f"expected a string, got {_kind(value)}")
        if not value.strip():
            raise self._fail(key, "empty")
        if len(value) > _MAX_ID_LENGTH:
            raise self._fail(key, f"longer than {_MAX_ID_LENGTH} characters")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(key, f"expected a string, got {_kind(value)}")
        return value

    def optional_int(self, key: str) -> int | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, f"expected an integer, got {_kind(value)}")
        if isinstance(value, float):
            if not value.is_integer():
                raise self._fail(key, "expected an integer, got a fraction")
            return int(value)
        return value

    def _time(self, keys: tuple[str, ...]) -> tuple[str, datetime] | None:
        for key in keys:
            value = self._data.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise self._fail(key, f"expected an ISO 8601 date-time string, got {_kind(value)}")
            try:
                parsed = datetime.fromisoformat(value)  # 3.11+: 'Z' and 7-digit fractions are fine
                # Job Router times are UTC; a naive value is read as UTC, as the SDK does.
                parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            except (ValueError, OverflowError):
                raise self._fail(key, "not an ISO 8601 date-time") from None
            return key, parsed
        return None

    def required_time(self, keys: tuple[str, ...]) -> datetime:
        found = self._time(keys)
        if found is None:
            raise self._fail(keys[0], f"missing (also looked for {', '.join(keys[1:])})")
        return found[1]

    def optional_time(self, keys: tuple[str, ...]) -> datetime | None:
        found = self._time(keys)
        return None if found is None else found[1]

    def labels(self, key: str) -> Mapping[str, LabelValue]:
        value = self._data.get(key)
        if value is None:
            return _EMPTY
        if not isinstance(value, dict):
            raise self._fail(key, f"expected an object, got {_kind(value)}")
        labels: dict[str, LabelValue] = {}
        for name, item in value.items():
            if item is None:  # a null label means "not set" in Job Router's merge-patch model
                continue
            if isinstance(item, float) and not math.isfinite(item):
                raise self._fail(f"{key}.{name}", "expected a finite number")
            if not isinstance(item, str | int | float | bool):
                raise self._fail(f"{key}.{name}", f"expected a string, number or boolean, got {_kind(item)}")
            labels[name] = item
        return MappingProxyType(labels)
