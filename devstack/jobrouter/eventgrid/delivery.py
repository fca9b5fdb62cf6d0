"""Delivery bookkeeping: Event Grid's retry schedule, how an attempt ended, and what became of each delivery.

A *delivery* is one event to one subscription (one copy). :class:`Delivery` is its mutable progress while
the publisher works on it; :class:`DeliveryRecord` and :class:`DeliveryStats` are the frozen snapshots the
admin API shows. The retry rules (schedule, non-retriable answers, outcome words, the dead-letter line) are
pure functions here; the publisher only carries them out. Guide: docs/eventgrid-delivery.md.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, Final

from devstack.jobrouter.event_fields import format_event_time
from devstack.jobrouter.eventgrid.envelopes import PublishedEvent, Schema

__all__ = [
    "DEFAULT_EVENT_LOG_LIMIT",
    "DEFAULT_RETRY_SCHEDULE",
    "NON_RETRIABLE_STATUSES",
    "AttemptResult",
    "Delivery",
    "DeliveryLedger",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DeliveryStats",
    "ValidationState",
    "dead_letter_line",
    "outcome_name",
    "retry_delay",
]

#: Event Grid's documented retry schedule in seconds; the last entry repeats (every 12 h).
DEFAULT_RETRY_SCHEDULE: Final[tuple[float, ...]] = (10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200)

#: How many of the most recent events (with their delivery records) the publisher keeps for the admin API.
DEFAULT_EVENT_LOG_LIMIT: Final = 10_000

#: Webhook answers Event Grid never retries: the event is dead-lettered (or dropped) at once.
NON_RETRIABLE_STATUSES: Final = frozenset({400, 401, 403, 413})

_OUTCOME_NAMES: Final[Mapping[int, str]] = {408: "TimedOut", 413: "RequestEntityTooLarge", 429: "Busy"}


def retry_delay(schedule: tuple[float, ...], failed_attempts: int, scale: float) -> float:
    """Seconds to wait after the ``failed_attempts``-th failed attempt (1-based); the last entry repeats."""
    index = min(max(failed_attempts, 1), len(schedule)) - 1
    return schedule[index] * scale


def outcome_name(status: int) -> str:
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
class AttemptResult:
    """How one delivery attempt ended."""

    status: int | None  # None: no HTTP answer (timeout, refused, reset)
    outcome: str  # Event Grid's lastDeliveryOutcome vocabulary

    @property
    def succeeded(self) -> bool:
        """True for 200-204, the answers Event Grid counts as delivered."""
        return self.status is not None and 200 <= self.status <= 204


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
    failures_by_subscription: dict[str, int]
    dead_lettered: int
    dropped: int
    abandoned: int
    pending: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for an admin endpoint)."""
        return {
            "published": self.published,
            "deliveries": self.deliveries,
            "duplicates": self.duplicates,
            "attempts": self.attempts,
            "successes": self.successes,
            "failures": self.failures,
            "failuresBySubscription": dict(sorted(self.failures_by_subscription.items())),
            "deadLettered": self.dead_lettered,
            "dropped": self.dropped,
            "abandoned": self.abandoned,
            "pending": self.pending,
        }


@dataclass(slots=True)
class Delivery:
    """One delivery in progress: ``subscription`` is the subscription's name, ``published_at`` loop time."""

    event: PublishedEvent
    subscription: str
    copy: int
    published_at: float
    attempts: int = 0
    outcome: DeliveryOutcome = DeliveryOutcome.PENDING
    last_status: int | None = None
    last_outcome: str | None = None
    last_attempt_time: datetime | None = None
    dead_letter_reason: str | None = None

    def record_attempt(self, result: AttemptResult, now: datetime) -> None:
        """Count one finished attempt and remember how it ended."""
        self.attempts += 1
        self.last_status = result.status
        self.last_outcome = result.outcome
        self.last_attempt_time = now

    def snapshot(self) -> DeliveryRecord:
        """The frozen record of this delivery right now."""
        return DeliveryRecord(
            event_id=self.event.id,
            event_type=self.event.event_type,
            subscription=self.subscription,
            copy=self.copy,
            attempts=self.attempts,
            outcome=self.outcome,
            last_status=self.last_status,
            last_outcome=self.last_outcome,
            dead_letter_reason=self.dead_letter_reason,
        )


def dead_letter_line(delivery: Delivery, schema: Schema, reason: str, now: datetime) -> dict[str, Any]:
    """One line of the JSON-lines dead-letter file: the event in ``schema`` plus why and when it failed."""
    event = delivery.event
    return {
        **event.envelope(schema),
        "deadLetterReason": reason,
        "deliveryAttempts": delivery.attempts,
        "lastDeliveryOutcome": delivery.last_outcome,
        "lastHttpStatusCode": delivery.last_status,
        "publishTime": format_event_time(event.event_time),
        "lastDeliveryAttemptTime": (
            None if delivery.last_attempt_time is None else format_event_time(delivery.last_attempt_time)
        ),
        "deadLetteredTime": format_event_time(now),
        "subscriptionName": delivery.subscription,
    }


class DeliveryLedger:
    """What the publisher remembers: the most recent events, their deliveries, and totals since the start.

    The event log keeps the ``limit`` most recent events; when an event leaves it, so do the records of its
    deliveries (a delivery still in progress carries on and is still counted). The totals
    :class:`DeliveryStats` reports cover every event ever published, whatever the limit.
    """

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"event_log_limit must be an integer >= 1, got {limit!r}")
        self.events: deque[PublishedEvent] = deque(maxlen=limit)
        self._deliveries: deque[Delivery] = deque()
        self._by_event: dict[str, list[Delivery]] = {}
        self._published = 0
        self._outcomes = dict.fromkeys(DeliveryOutcome, 0)
        self._duplicates = 0
        self._attempts = 0
        self._successes = 0
        self._failures_by_subscription: Counter[str] = Counter()

    @property
    def pending(self) -> int:
        """Deliveries not finished yet (delivered, dead-lettered, dropped or abandoned)."""
        return self._outcomes[DeliveryOutcome.PENDING]

    def add_event(self, event: PublishedEvent) -> None:
        """Log a published event; when the log is full, forget the oldest and its delivery records."""
        if len(self.events) == self.events.maxlen:
            oldest = self.events[0].id
            self._by_event.pop(oldest, None)
            while self._deliveries and self._deliveries[0].event.id == oldest:
                self._deliveries.popleft()
        self.events.append(event)
        self._published += 1

    def add(self, delivery: Delivery) -> None:
        """Record a new, pending delivery of the event logged last."""
        self._deliveries.append(delivery)
        self._by_event.setdefault(delivery.event.id, []).append(delivery)
        self._outcomes[delivery.outcome] += 1
        self._duplicates += delivery.copy > 0

    def attempted(self, delivery: Delivery, result: AttemptResult, now: datetime) -> None:
        """Count one finished attempt of ``delivery``."""
        delivery.record_attempt(result, now)
        self._attempts += 1
        self._successes += result.succeeded
        if not result.succeeded:
            self._failures_by_subscription[delivery.subscription] += 1

    def finish(self, delivery: Delivery, outcome: DeliveryOutcome) -> bool:
        """Give a pending delivery its final outcome; False (and no change) if it already had one."""
        if delivery.outcome is not DeliveryOutcome.PENDING:
            return False
        self._outcomes[delivery.outcome] -= 1
        delivery.outcome = outcome
        self._outcomes[outcome] += 1
        return True

    def records(self, event_id: str | None = None) -> list[DeliveryRecord]:
        """Per-delivery records of the events in the log, for one event id or all, in publish order."""
        chosen = self._deliveries if event_id is None else self._by_event.get(event_id, [])
        return [d.snapshot() for d in chosen]

    def stats(self) -> DeliveryStats:
        """The totals since the start (not limited to the events still in the log)."""
        return DeliveryStats(
            published=self._published,
            deliveries=sum(self._outcomes.values()),
            duplicates=self._duplicates,
            attempts=self._attempts,
            successes=self._successes,
            failures=self._attempts - self._successes,
            failures_by_subscription=dict(self._failures_by_subscription),
            dead_lettered=self._outcomes[DeliveryOutcome.DEAD_LETTERED],
            dropped=self._outcomes[DeliveryOutcome.DROPPED],
            abandoned=self._outcomes[DeliveryOutcome.ABANDONED],
            pending=self._outcomes[DeliveryOutcome.PENDING],
        )
