"""Event Grid for the emulator: push Job Router events to webhooks with Event Grid's delivery semantics.

:class:`Subscription` describes one webhook (schema, type filter, retry policy, dead-letter file);
:class:`EventPublisher` owns an aiohttp client session, validates each subscription with the
``SubscriptionValidation`` handshake and then delivers every published event at least once, one event per
request, retrying on anything but 200-204 (or a timeout) on Event Grid's schedule until the attempt limit or
the TTL ends it, then writes it to a JSON-lines dead-letter file. User guide: docs/eventgrid-delivery.md.

``--webhook`` syntax (:meth:`Subscription.parse`)::

    URL[#option=value[&option=value...]]

    http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=on_offer
    http://127.0.0.1:7071/api/events#types=RouterWorkerOfferIssued,RouterWorkerOfferRevoked&schema=cloudevents

The options live in the URL *fragment*, which HTTP never sends, so they cannot clash with the URL's query.
Options: ``types`` (comma list; short ``RouterJobQueued`` or full ``Microsoft.Communication.RouterJobQueued``
names, case-insensitive; default all), ``schema`` (``eventgrid`` | ``cloudevents``), ``name`` (the
``aeg-subscription-name``), ``max-attempts`` (1-30), ``ttl`` (minutes, 1-1440), ``retry-scale``
(multiplies every retry delay and the TTL, e.g. 0.01), ``timeout`` (seconds to wait for an answer),
``dead-letter`` (path of the JSON-lines file) and ``handshake`` (``true`` | ``false``).

Emulator-specific choices (Event Grid documents none of these; see the doc for the reasons):

- the handshake runs in :meth:`EventPublisher.start` (one attempt per subscription, bounded by its delivery
  timeout); a subscription that fails it stays *unvalidated* and is re-tried in the background every
  ``validation_retry_interval`` seconds; its events wait (their TTL keeps running) and flow once it validates;
- ``eventTime`` is strictly increasing in publish order, so a receiver can restore publish order by sorting;
- dead-lettering happens at once (Event Grid waits about five minutes) and is a local file, not a blob.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import math
import random
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final, Literal, Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import aiohttp

from devstack.jobrouter.event_fields import format_event_time
from devstack.jobrouter.event_types import RouterEvent, resolve_event_type, short_event_type

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "NON_RETRIABLE_STATUSES",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DeliveryStats",
    "EventPublisher",
    "PublishedEvent",
    "Schema",
    "Subscription",
    "ValidationState",
]

_log = logging.getLogger(__name__)

Schema = Literal["eventgrid", "cloudevents"]
_SCHEMAS: Final = ("eventgrid", "cloudevents")

#: Event Grid's documented retry schedule in seconds; the last entry repeats (every 12 h).
DEFAULT_RETRY_SCHEDULE: Final[tuple[float, ...]] = (10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200)

#: Webhook answers Event Grid never retries: the event is dead-lettered (or dropped) at once.
NON_RETRIABLE_STATUSES: Final = frozenset({400, 401, 403, 413})

VALIDATION_EVENT_TYPE: Final = "Microsoft.EventGrid.SubscriptionValidationEvent"
_DATA_VERSION: Final = "1.0"
_METADATA_VERSION: Final = "1"
_VALIDATION_DATA_VERSION: Final = "2"

_MAX_ATTEMPTS_LIMIT: Final = 30
_TTL_LIMIT_MINUTES: Final = 1440
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


# ------------------------------------------------------------------------------------------ subscription


@dataclass(frozen=True, slots=True)
class Subscription:
    """One webhook event subscription and its Event Grid delivery policy.

    ``event_ttl`` is in minutes (Event Grid's unit). ``retry_scale`` multiplies every retry delay *and* the
    TTL, so ``retry_scale=0.001`` replays the real timeline a thousand times faster; it never touches
    ``delivery_timeout`` (how long one attempt waits for an answer).
    """

    endpoint: str = field(repr=False)
    schema: Schema = "eventgrid"
    included_event_types: frozenset[str] | None = None
    max_delivery_attempts: int = 30
    event_ttl: float = 1440.0
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    retry_scale: float = 1.0
    delivery_timeout: float = 30.0
    dead_letter_path: Path | None = None
    name: str = ""
    handshake: bool = True

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"webhook endpoint must be an absolute http(s) URL, got {_redact(self.endpoint)!r}"
            )
        if parts.fragment:
            raise ValueError(
                "webhook endpoint must not carry a '#' fragment (use Subscription.parse for '#options')"
            )
        if self.schema not in _SCHEMAS:
            raise ValueError(f"webhook schema must be one of {', '.join(_SCHEMAS)}, got {self.schema!r}")
        if self.included_event_types is not None:
            if not self.included_event_types:
                raise ValueError("included_event_types must be None (all types) or name at least one type")
            resolved = frozenset(resolve_event_type(t) for t in self.included_event_types)
            object.__setattr__(self, "included_event_types", resolved)
        if not 1 <= self.max_delivery_attempts <= _MAX_ATTEMPTS_LIMIT:
            raise ValueError(
                f"max_delivery_attempts must be 1-{_MAX_ATTEMPTS_LIMIT}, got {self.max_delivery_attempts}"
            )
        if not 0 < self.event_ttl <= _TTL_LIMIT_MINUTES:
            raise ValueError(
                f"event_ttl must be >0 and <= {_TTL_LIMIT_MINUTES} minutes, got {self.event_ttl}"
            )
        if not self.retry_schedule or any(not math.isfinite(d) or d < 0 for d in self.retry_schedule):
            raise ValueError(
                f"retry_schedule must be a non-empty list of delays >= 0, got {self.retry_schedule}"
            )
        object.__setattr__(self, "retry_schedule", tuple(float(d) for d in self.retry_schedule))
        if not (math.isfinite(self.retry_scale) and self.retry_scale > 0):
            raise ValueError(f"retry_scale must be > 0, got {self.retry_scale}")
        if not (math.isfinite(self.delivery_timeout) and self.delivery_timeout > 0):
            raise ValueError(f"delivery_timeout must be > 0 seconds, got {self.delivery_timeout}")
        if self.dead_letter_path is not None:
            object.__setattr__(self, "dead_letter_path", Path(self.dead_letter_path))

    def __repr__(self) -> str:
        types = (
            "all"
            if self.included_event_types is None
            else sorted(map(short_event_type, self.included_event_types))
        )
        return (
            f"Subscription(endpoint={self.display_endpoint!r}, schema={self.schema!r}, types={types}, "
            f"max_delivery_attempts={self.max_delivery_attempts}, event_ttl={self.event_ttl}, "
            f"retry_scale={self.retry_scale}, dead_letter_path={self.dead_letter_path})"
        )

    @property
    def display_endpoint(self) -> str:
        """The endpoint without query or credentials (a Function URL's ``code=`` is a secret): safe to log."""
        return _redact(self.endpoint)

    def accepts(self, event_type: str) -> bool:
        """True when this subscription's type filter lets ``event_type`` through."""
        return self.included_event_types is None or event_type in self.included_event_types

    def retry_delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failed attempt (1-based), already scaled."""
        index = min(max(failed_attempts, 1), len(self.retry_schedule)) - 1
        return self.retry_schedule[index] * self.retry_scale

    @property
    def ttl_seconds(self) -> float:
        """The event time-to-live in seconds, already scaled."""
        return self.event_ttl * 60.0 * self.retry_scale

    @classmethod
    def parse(
        cls,
        spec: str,
        *,
        schema: Schema = "eventgrid",
        max_delivery_attempts: int = 30,
        event_ttl: float = 1440.0,
        retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE,
        retry_scale: float = 1.0,
        delivery_timeout: float = 30.0,
        dead_letter_path: Path | None = None,
        name: str = "",
        handshake: bool = True,
    ) -> Subscription:
        """Parse a CLI ``--webhook`` value ``URL[#option=value&...]``; keyword arguments are the defaults.

        Raises ValueError naming the bad option or value.
        """
        url, _, fragment = spec.strip().partition("#")
        if not url:
            raise ValueError("empty --webhook value")
        values: dict[str, Any] = {
            "schema": schema,
            "included_event_types": None,
            "max_delivery_attempts": max_delivery_attempts,
            "event_ttl": event_ttl,
            "retry_schedule": retry_schedule,
            "retry_scale": retry_scale,
            "delivery_timeout": delivery_timeout,
            "dead_letter_path": dead_letter_path,
            "name": name,
            "handshake": handshake,
        }
        for key, raw in parse_qsl(fragment, keep_blank_values=True, strict_parsing=False):
            option = key.strip().lower().replace("_", "-")
            value = raw.strip()
            try:
                _apply_option(values, option, value)
            except ValueError as error:
                raise ValueError(f"--webhook {_redact(url)}: option {key!r}: {error}") from None
        try:
            return cls(endpoint=url, **values)
        except ValueError as error:
            raise ValueError(f"--webhook {_redact(url)}: {error}") from None


def _parse_types(value: str) -> frozenset[str]:
    names = [n for n in (part.strip() for part in value.split(",")) if n]
    if not names:
        raise ValueError("needs at least one event type")
    return frozenset(resolve_event_type(n) for n in names)


def _parse_schema(value: str) -> str:
    if value.lower() not in _SCHEMAS:
        raise ValueError(f"must be one of {', '.join(_SCHEMAS)}, got {value!r}")
    return value.lower()


def _parse_bool(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {value!r}")


# option name (and aliases) -> (Subscription field, parser)
_OPTIONS: Final[Mapping[str, tuple[str, Callable[[str], Any]]]] = {
    "types": ("included_event_types", _parse_types),
    "type": ("included_event_types", _parse_types),
    "schema": ("schema", _parse_schema),
    "name": ("name", str),
    "max-attempts": ("max_delivery_attempts", lambda v: _number(v, int)),
    "ttl": ("event_ttl", lambda v: _number(v, float)),
    "retry-scale": ("retry_scale", lambda v: _number(v, float)),
    "timeout": ("delivery_timeout", lambda v: _number(v, float)),
    "dead-letter": ("dead_letter_path", lambda v: Path(v) if v else None),
    "handshake": ("handshake", _parse_bool),
}


def _apply_option(values: dict[str, Any], option: str, value: str) -> None:
    known = _OPTIONS.get(option)
    if known is None:
        raise ValueError(f"unknown option; known: {', '.join(sorted(_OPTIONS))}")
    field_name, parse = known
    values[field_name] = parse(value)


def _number[T: (int, float)](value: str, kind: type[T]) -> T:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"expected {'an integer' if kind is int else 'a number'}, got {value!r}") from None


def _redact(url: str) -> str:
    """scheme://host:port/path only: drops userinfo, query and fragment, where keys live."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# ------------------------------------------------------------------------------------------------ events


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


def _body(event: dict[str, Any], schema: Schema) -> bytes:
    payload: Any = event if schema == "cloudevents" else [event]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _content_type(schema: Schema) -> str:
    return "application/cloudevents+json; charset=utf-8" if schema == "cloudevents" else "application/json"


# -------------------------------------------------------------------------------------------- statistics


class DeliveryOutcome(enum.StrEnum):
    """Where one delivery (an event, to one subscription, one copy) ended up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD_LETTERED = "deadLettered"
    DROPPED = "dropped"  # undeliverable and the subscription has no dead-letter file
    ABANDONED = "abandoned"  # the publisher closed first


class ValidationState(enum.StrEnum):
    """Handshake state of a subscription."""

    PENDING = "pending"
    VALIDATED = "validated"
    FAILED = "failed"  # last attempt failed; re-tried in the background


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """Snapshot of one delivery: an event to one subscription (``copy`` 1 is a duplicate from the knob)."""

    event_id: str
    event_type: str
    subscription: str
    copy: int
    attempts: int
    outcome: DeliveryOutcome
    last_status: int | None
    last_outcome: str | None
    dead_letter_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for an admin endpoint)."""
        return {
            "eventId": self.event_id,
            "eventType": self.event_type,
            "subscription": self.subscription,
            "copy": self.copy,
            "attempts": self.attempts,
            "outcome": str(self.outcome),
            "lastHttpStatusCode": self.last_status,
            "lastDeliveryOutcome": self.last_outcome,
            "deadLetterReason": self.dead_letter_reason,
        }


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """Totals for reconciliation: every delivery ends delivered, dead-lettered, dropped or abandoned."""

    published: int
    deliveries: int
    duplicates: int
    attempts: int
    successes: int
    failures: int
    dead_lettered: int
    dropped: int
    abandoned: int
    pending: int

    def as_dict(self) -> dict[str, int]:
        """JSON-ready form (for an admin endpoint)."""
        return {
            "published": self.published,
            "deliveries": self.deliveries,
            "duplicates": self.duplicates,
            "attempts": self.attempts,
            "successes": self.successes,
            "failures": self.failures,
            "deadLettered": self.dead_lettered,
            "dropped": self.dropped,
            "abandoned": self.abandoned,
            "pending": self.pending,
        }


@dataclass(slots=True)
class _Delivery:
    event: PublishedEvent
    state: _SubscriptionState
    copy: int
    published_at: float  # loop.time()
    attempts: int = 0
    outcome: DeliveryOutcome = DeliveryOutcome.PENDING
    last_status: int | None = None
    last_outcome: str | None = None
    last_attempt_time: datetime | None = None
    dead_letter_reason: str | None = None

    def snapshot(self) -> DeliveryRecord:
        return DeliveryRecord(
            event_id=self.event.id,
            event_type=self.event.event_type,
            subscription=self.state.name,
            copy=self.copy,
            attempts=self.attempts,
            outcome=self.outcome,
            last_status=self.last_status,
            last_outcome=self.last_outcome,
            dead_letter_reason=self.dead_letter_reason,
        )


@dataclass(slots=True)
class _SubscriptionState:
    subscription: Subscription
    name: str
    semaphore: asyncio.Semaphore
    validated: asyncio.Event
    validation: ValidationState = ValidationState.PENDING
    validation_error: str | None = None
    validation_task: asyncio.Task[None] | None = None


@dataclass(frozen=True, slots=True)
class _AttemptResult:
    status: int | None  # None: no HTTP answer (timeout, refused, reset)
    outcome: str  # Event Grid's lastDeliveryOutcome vocabulary

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status <= 204


# --------------------------------------------------------------------------------------------- publisher


class EventPublisher:
    """Delivers published events to every matching subscription with Event Grid's at-least-once semantics.

    Lifecycle: construct, ``await start()``, ``publish()`` from the loop thread, ``await drain()`` if you need
    quiescence, ``await close()``. Events published before ``start()`` are recorded and sent once it runs;
    events published after ``close()`` are recorded but never sent.
    """

    def __init__(
        self,
        subscriptions: Sequence[Subscription],
        *,
        topic: str,
        duplicate_fraction: float = 0.0,
        reorder_window: float = 0.0,
        seed: int | None = None,
        max_concurrency: int = 64,
        validation_retry_interval: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if not validation_retry_interval > 0:
            raise ValueError(f"validation_retry_interval must be > 0, got {validation_retry_interval}")
        self._subscriptions = tuple(subscriptions)
        self._topic = topic
        self._rng = random.Random(seed)
        self._clock = clock
        self._max_concurrency = max_concurrency
        self._validation_retry_interval = validation_retry_interval
        self._duplicate_fraction = 0.0
        self._reorder_window = 0.0
        self.set_duplicate_fraction(duplicate_fraction)
        self._reorder_window = _check_window(reorder_window)

        self.event_log: list[PublishedEvent] = []
        self._deliveries: list[_Delivery] = []
        self._by_event: dict[str, list[_Delivery]] = {}
        self._states: list[_SubscriptionState] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: list[_Delivery] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._backlog: list[_Delivery] = []
        self._outstanding = 0
        self._idle: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._last_event_time = datetime.min.replace(tzinfo=UTC)
        self._attempts = 0
        self._successes = 0
        self._failures = 0

        names: set[str] = set()
        for index, sub in enumerate(self._subscriptions, start=1):
            name = (sub.name or f"WEBHOOK{index}").upper()
            if name in names:
                raise ValueError(
                    f"two webhook subscriptions are both named {name!r}; give them distinct names"
                )
            names.add(name)
            self._states.append(
                _SubscriptionState(
                    subscription=sub,
                    name=name,
                    semaphore=asyncio.Semaphore(max_concurrency),
                    validated=asyncio.Event(),
                )
            )

    # ---------------------------------------------------------------------------------- properties

    @property
    def topic(self) -> str:
        """The ``topic`` / ``source`` put in every envelope."""
        return self._topic

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The subscriptions, in the order given."""
        return self._subscriptions

    @property
    def duplicate_fraction(self) -> float:
        """Fraction (0-1) of deliveries that are sent twice, independently."""
        return self._duplicate_fraction

    @property
    def reorder_window(self) -> float:
        """Seconds events are held and then released in shuffled order (0 = off)."""
        return self._reorder_window

    def set_duplicate_fraction(self, fraction: float) -> None:
        """Change the duplicate knob at runtime (0 <= fraction <= 1)."""
        if not (math.isfinite(fraction) and 0.0 <= fraction <= 1.0):
            raise ValueError(f"duplicate_fraction must be between 0 and 1, got {fraction}")
        self._duplicate_fraction = fraction

    def set_reorder_window(self, seconds: float) -> None:
        """Change the reorder knob at runtime; 0 releases anything held right away."""
        self._reorder_window = _check_window(seconds)
        if self._reorder_window == 0 and self._held:
            self._flush_held()

    def validation_state(self) -> dict[str, ValidationState]:
        """Handshake state per subscription name."""
        return {s.name: s.validation for s in self._states}

    async def wait_validated(self, timeout: float) -> bool:
        """Wait until every subscription passed the handshake; False on timeout."""
        waits = [s.validated.wait() for s in self._states if s.subscription.handshake]
        if not waits:
            return True
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*waits)
        except TimeoutError:
            return False
        return True

    def stats(self) -> DeliveryStats:
        """Delivery totals right now."""
        by_outcome = dict.fromkeys(DeliveryOutcome, 0)
        for delivery in self._deliveries:
            by_outcome[delivery.outcome] += 1
        return DeliveryStats(
            published=len(self.event_log),
            deliveries=len(self._deliveries),
            duplicates=sum(1 for d in self._deliveries if d.copy > 0),
            attempts=self._attempts,
            successes=self._successes,
            failures=self._failures,
            dead_lettered=by_outcome[DeliveryOutcome.DEAD_LETTERED],
            dropped=by_outcome[DeliveryOutcome.DROPPED],
            abandoned=by_outcome[DeliveryOutcome.ABANDONED],
            pending=by_outcome[DeliveryOutcome.PENDING],
        )

    def deliveries(self, event_id: str | None = None) -> list[DeliveryRecord]:
        """Per-delivery records (attempts, outcome), for one event id or all, in publish order."""
        chosen = self._deliveries if event_id is None else self._by_event.get(event_id, [])
        return [d.snapshot() for d in chosen]

    # ---------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the HTTP session and run each handshake once (failures are re-tried in the background)."""
        if self._loop is not None:
            raise RuntimeError("EventPublisher.start() called twice")
        if self._closed:
            raise RuntimeError("EventPublisher is closed")
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), raise_for_status=False)
        for state in self._states:
            if not state.subscription.handshake:
                state.validation = ValidationState.VALIDATED
                state.validated.set()
        await asyncio.gather(*(self._validate_once(s) for s in self._states if s.subscription.handshake))
        for state in self._states:
            if not state.validated.is_set():
                state.validation_task = self._loop.create_task(
                    self._keep_validating(state), name=f"eventgrid-validate-{state.name}"
                )
        backlog, self._backlog = self._backlog, []
        self._outstanding_changed()
        for delivery in backlog:
            delivery.published_at = self._loop.time()  # the TTL starts when delivery can start
            self._dispatch(delivery)

    async def close(self) -> None:
        """Stop: cancel pending retries (recorded as abandoned), close the session. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        for delivery in [*self._held, *self._backlog]:
            self._finish(delivery, DeliveryOutcome.ABANDONED)
        self._held.clear()
        self._backlog.clear()
        tasks = [*self._tasks, *(s.validation_task for s in self._states if s.validation_task is not None)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        abandoned = self.stats().abandoned
        if abandoned:
            _log.info("event publisher closed; %d pending deliveries abandoned", abandoned)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def drain(self, timeout: float) -> bool:
        """Wait until every delivery so far is delivered, dead-lettered or dropped; False on timeout."""
        if self._idle is None:
            return self._outstanding == 0
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------------------------ publish

    def publish(self, event: RouterEvent) -> None:
        """Record ``event`` and schedule its deliveries; never blocks, never raises for delivery problems.

        Must be called from the thread running the publisher's event loop.
        """
        if self._loop is not None and not self._closed:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not self._loop:
                raise RuntimeError("EventPublisher.publish() must be called from its event loop's thread")
        published = PublishedEvent(
            id=str(uuid.uuid4()),
            event_type=event.event_type,
            subject=event.subject,
            data=event.data,
            event_time=self._next_event_time(),
            topic=self._topic,
        )
        self.event_log.append(published)
        if self._closed:
            _log.debug(
                "event %s (%s) published after close: recorded, not delivered", published.id, event.event_type
            )
            return
        now = self._loop.time() if self._loop is not None else 0.0
        for state in self._states:
            if not state.subscription.accepts(event.event_type):
                continue
            copies = 2 if self._rng.random() < self._duplicate_fraction else 1
            for copy in range(copies):
                delivery = _Delivery(event=published, state=state, copy=copy, published_at=now)
                self._deliveries.append(delivery)
                self._by_event.setdefault(published.id, []).append(delivery)
                self._outstanding += 1
                self._outstanding_changed()
                if self._loop is None:
                    self._backlog.append(delivery)
                elif self._reorder_window > 0:
                    self._hold(delivery)
                else:
                    self._dispatch(delivery)

    def _next_event_time(self) -> datetime:
        now = self._clock()
        if now <= self._last_event_time:
            now = self._last_event_time + timedelta(microseconds=1)
        self._last_event_time = now
        return now

    def _hold(self, delivery: _Delivery) -> None:
        assert self._loop is not None
        self._held.append(delivery)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_later(self._reorder_window, self._flush_held)

    def _flush_held(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        held, self._held = self._held, []
        self._rng.shuffle(held)
        for delivery in held:
            self._dispatch(delivery)

    def _dispatch(self, delivery: _Delivery) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._deliver(delivery), name=f"eventgrid-deliver-{delivery.event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------------------------- delivering

    async def _deliver(self, delivery: _Delivery) -> None:
        try:
            await self._deliver_until_done(delivery)
        except asyncio.CancelledError:
            self._finish(delivery, DeliveryOutcome.ABANDONED)
            raise
        except Exception:  # a bug here must not kill the loop or leak into publish()
            _log.exception("event %s: delivery crashed", delivery.event.id)
            self._finish(delivery, DeliveryOutcome.DROPPED)

    async def _deliver_until_done(self, delivery: _Delivery) -> None:
        assert self._loop is not None
        state, sub, event = delivery.state, delivery.state.subscription, delivery.event
        deadline = delivery.published_at + sub.ttl_seconds
        if not state.validated.is_set():
            try:
                async with asyncio.timeout_at(deadline):
                    await state.validated.wait()
            except TimeoutError:
                self._dead_letter(delivery, "TimeToLiveExceeded")
                return
        body = _body(event.envelope(sub.schema), sub.schema)
        while True:
            async with state.semaphore:
                result = await self._attempt(sub, state.name, body, delivery_count=delivery.attempts)
            delivery.attempts += 1
            delivery.last_status = result.status
            delivery.last_outcome = result.outcome
            delivery.last_attempt_time = self._clock()
            self._attempts += 1
            if result.succeeded:
                self._successes += 1
                self._finish(delivery, DeliveryOutcome.DELIVERED)
                return
            self._failures += 1
            if result.status in NON_RETRIABLE_STATUSES:
                self._dead_letter(delivery, f"UndeliverableDueToHttp{result.outcome}")
                return
            if delivery.attempts >= sub.max_delivery_attempts:
                self._dead_letter(delivery, "MaxDeliveryAttemptsExceeded")
                return
            delay = sub.retry_delay(delivery.attempts)
            remaining = deadline - self._loop.time()
            _log.warning(
                "event %s (%s) to %s: attempt %d failed (%s%s); retry in %.3fs",
                event.id,
                event.event_type,
                state.name,
                delivery.attempts,
                result.outcome,
                "" if result.status is None else f" {result.status}",
                delay,
            )
            if delay >= remaining:
                await asyncio.sleep(max(remaining, 0.0))
                self._dead_letter(delivery, "TimeToLiveExceeded")
                return
            await asyncio.sleep(delay)

    async def _attempt(
        self, sub: Subscription, name: str, body: bytes, *, delivery_count: int
    ) -> _AttemptResult:
        assert self._session is not None
        headers = {
            "Content-Type": _content_type(sub.schema),
            "aeg-event-type": "Notification",
            "aeg-subscription-name": name,
            "aeg-delivery-count": str(delivery_count),
            "aeg-data-version": _DATA_VERSION,
            "aeg-metadata-version": _METADATA_VERSION,
        }
        timeout = aiohttp.ClientTimeout(total=sub.delivery_timeout)
        try:
            async with self._session.post(
                sub.endpoint, data=body, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                return _AttemptResult(response.status, _outcome_name(response.status))
        except TimeoutError:
            return _AttemptResult(None, "TimedOut")
        except aiohttp.ClientError as error:
            _log.debug("delivery to %s: %s", sub.display_endpoint, type(error).__name__)
            return _AttemptResult(None, "GenericError")

    def _dead_letter(self, delivery: _Delivery, reason: str) -> None:
        sub, event = delivery.state.subscription, delivery.event
        delivery.dead_letter_reason = reason
        status = "" if delivery.last_status is None else f" {delivery.last_status}"
        if sub.dead_letter_path is None:
            _log.warning(
                "event %s (%s) to %s: failed (%s, %d attempts, last %s%s); no dead-letter file: dropped",
                event.id,
                event.event_type,
                delivery.state.name,
                reason,
                delivery.attempts,
                delivery.last_outcome,
                status,
            )
            self._finish(delivery, DeliveryOutcome.DROPPED)
            return
        now = self._clock()
        line: dict[str, Any] = {
            **event.envelope(sub.schema),
            "deadLetterReason": reason,
            "deliveryAttempts": delivery.attempts,
            "lastDeliveryOutcome": delivery.last_outcome,
            "lastHttpStatusCode": delivery.last_status,
            "publishTime": format_event_time(event.event_time),
            "lastDeliveryAttemptTime": (
                None if delivery.last_attempt_time is None else format_event_time(delivery.last_attempt_time)
            ),
            "deadLetteredTime": format_event_time(now),
            "subscriptionName": delivery.state.name,
        }
        try:
            path = sub.dead_letter_path
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
        except OSError as error:
            _log.error(
                "event %s (%s): cannot write dead-letter file %s (%s); dropped",
                event.id,
                event.event_type,
                sub.dead_letter_path,
                error.strerror or type(error).__name__,
            )
            self._finish(delivery, DeliveryOutcome.DROPPED)
            return
        _log.warning(
            "event %s (%s) to %s: dead-lettered (%s, %d attempts, last %s%s)",
            event.id,
            event.event_type,
            delivery.state.name,
            reason,
            delivery.attempts,
            delivery.last_outcome,
            status,
        )
        self._finish(delivery, DeliveryOutcome.DEAD_LETTERED)

    def _finish(self, delivery: _Delivery, outcome: DeliveryOutcome) -> None:
        if delivery.outcome is not DeliveryOutcome.PENDING:
            return
        delivery.outcome = outcome
        self._outstanding -= 1
        self._outstanding_changed()

    def _outstanding_changed(self) -> None:
        if self._idle is None:
            return
        if self._outstanding == 0:
            self._idle.set()
        else:
            self._idle.clear()

    # ---------------------------------------------------------------------------------- handshake

    async def _validate_once(self, state: _SubscriptionState) -> bool:
        assert self._session is not None
        sub = state.subscription
        code = secrets.token_hex(16).upper()
        event = _validation_event(code, self._topic, sub.schema, self._clock())
        headers = {
            "Content-Type": _content_type(sub.schema),
            "aeg-event-type": "SubscriptionValidation",
            "aeg-subscription-name": state.name,
            "aeg-delivery-count": "0",
            "aeg-data-version": _VALIDATION_DATA_VERSION,
            "aeg-metadata-version": _METADATA_VERSION,
        }
        timeout = aiohttp.ClientTimeout(total=sub.delivery_timeout)
        problem: str
        try:
            async with self._session.post(
                sub.endpoint, data=_body(event, sub.schema), headers=headers, timeout=timeout
            ) as response:
                raw = await response.read()
                if response.status != 200:
                    problem = f"answered HTTP {response.status}, expected 200"
                elif _validation_response(raw) != code:
                    problem = 'answered 200 without the matching {"validationResponse": <code>}'
                else:
                    problem = ""
        except TimeoutError:
            problem = f"no answer within {sub.delivery_timeout:g}s"
        except aiohttp.ClientError as error:
            problem = f"connection failed ({type(error).__name__})"
        if not problem:
            state.validation = ValidationState.VALIDATED
            state.validation_error = None
            state.validated.set()
            _log.info("webhook %s (%s) validated", state.name, sub.display_endpoint)
            return True
        first_failure = state.validation is not ValidationState.FAILED
        state.validation = ValidationState.FAILED
        state.validation_error = problem
        if first_failure:
            _log.warning(
                "webhook %s (%s) failed the SubscriptionValidation handshake: %s. Its events are held "
                "and the handshake is re-tried every %gs",
                state.name,
                sub.display_endpoint,
                problem,
                self._validation_retry_interval,
            )
        return False

    async def _keep_validating(self, state: _SubscriptionState) -> None:
        while not await self._validate_once(state):
            await asyncio.sleep(self._validation_retry_interval)


def _validation_event(code: str, topic: str, schema: Schema, now: datetime) -> dict[str, Any]:
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


def _validation_response(raw: bytes) -> str | None:
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


_OUTCOME_NAMES: Final[Mapping[int, str]] = {408: "TimedOut", 413: "RequestEntityTooLarge", 429: "Busy"}


def _outcome_name(status: int) -> str:
    """HTTP status -> Event Grid's ``lastDeliveryOutcome`` word (BadRequest, NotFound, ...)."""
    if 200 <= status <= 204:
        return "Succeeded"
    special = _OUTCOME_NAMES.get(status)
    if special is not None:
        return special
    try:
        return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")
    except ValueError:
        return f"Http{status}"


def _check_window(seconds: float) -> float:
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"reorder_window must be >= 0 seconds, got {seconds}")
    return float(seconds)
