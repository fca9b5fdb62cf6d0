"""The Event Grid publisher: push every published Job Router event to its webhooks, at least once.

:class:`EventPublisher` owns an aiohttp client session, validates each subscription with the
``SubscriptionValidation`` handshake and then delivers every published event at least once, one event per
request, retrying on anything but 200-204 (or a timeout) on Event Grid's schedule until the attempt limit or
the TTL ends it, then writes it to a JSON-lines dead-letter file. User guide: docs/eventgrid-delivery.md.

Emulator-specific choices (Event Grid documents none of these; see the doc for the reasons):

- the handshake runs in :meth:`EventPublisher.start` (one attempt per subscription, bounded by its delivery
  timeout); a subscription that fails it stays *unvalidated* and is re-tried in the background every
  ``validation_retry_interval`` seconds; its events wait (their TTL keeps running) and flow once it validates;
- ``eventTime`` is strictly increasing in publish order, so a receiver can restore publish order by sorting;
- dead-lettering happens at once (Event Grid waits about five minutes) and is a local file, not a blob.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Self

import aiohttp

from devstack.jobrouter.event_types import RouterEvent
from devstack.jobrouter.eventgrid.delivery import (
    DEFAULT_EVENT_LOG_LIMIT,
    NON_RETRIABLE_STATUSES,
    AttemptResult,
    Delivery,
    DeliveryLedger,
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStats,
    ValidationState,
    dead_letter_line,
    outcome_name,
)
from devstack.jobrouter.eventgrid.envelopes import PublishedEvent, body, notification_headers
from devstack.jobrouter.eventgrid.handshake import keep_validating, subscription_states, validate_once
from devstack.jobrouter.eventgrid.subscription import Subscription

__all__ = ["EventPublisher"]

# The package's one logger, named as before the package split: users filter on it.
_log = logging.getLogger("devstack.jobrouter.eventgrid")


class EventPublisher:
    """Delivers published events to every matching subscription with Event Grid's at-least-once semantics.

    Lifecycle: construct, ``await start()``, ``publish()`` from the loop thread, ``await drain()`` if you need
    quiescence, ``await close()``. Events published before ``start()`` are recorded and sent once it runs;
    events published after ``close()`` are recorded but never sent. The event log and the delivery records
    keep the ``event_log_limit`` most recent events; :meth:`stats` counts everything since the start.
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
        event_log_limit: int = DEFAULT_EVENT_LOG_LIMIT,
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

        self._ledger = DeliveryLedger(event_log_limit)
        self._states = subscription_states(self._subscriptions, max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: list[Delivery] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._backlog: list[Delivery] = []
        self._idle: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._last_event_time = datetime.min.replace(tzinfo=UTC)

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

    @property
    def event_log(self) -> Sequence[PublishedEvent]:
        """The most recent ``event_log_limit`` events published, oldest first (read-only)."""
        return self._ledger.events

    def validation_state(self) -> dict[str, ValidationState]:
        """Handshake state per subscription name."""
        return {s.name: s.validation for s in self._states.values()}

    async def wait_validated(self, timeout: float) -> bool:
        """Wait until every subscription passed the handshake; False on timeout."""
        waits = [s.validated.wait() for s in self._states.values() if s.subscription.handshake]
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
        return self._ledger.stats()

    def deliveries(self, event_id: str | None = None) -> list[DeliveryRecord]:
        """Per-delivery records (attempts, outcome), for one event id or all, in publish order."""
        return self._ledger.records(event_id)

    # ---------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the HTTP session and run each handshake once (failures are re-tried in the background)."""
        if self._loop is not None:
            raise RuntimeError("EventPublisher.start() called twice")
        if self._closed:
            raise RuntimeError("EventPublisher is closed")
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        session = self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), raise_for_status=False
        )
        topic, interval = self._topic, self._validation_retry_interval
        for state in self._states.values():
            if not state.subscription.handshake:
                state.validation = ValidationState.VALIDATED
                state.validated.set()
        await asyncio.gather(
            *(
                validate_once(session, s, topic=topic, now=self._clock(), retry_interval=interval)
                for s in self._states.values()
                if s.subscription.handshake
            )
        )
        for state in self._states.values():
            if not state.validated.is_set():
                state.validation_task = self._loop.create_task(
                    keep_validating(session, state, topic=topic, clock=self._clock, retry_interval=interval),
                    name=f"eventgrid-validate-{state.name}",
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
        tasks = [
            *self._tasks,
            *(s.validation_task for s in self._states.values() if s.validation_task is not None),
        ]
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
            return self._ledger.pending == 0
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
        self._ledger.add_event(published)
        if self._closed:
            _log.debug(
                "event %s (%s) published after close: recorded, not delivered", published.id, event.event_type
            )
            return
        now = self._loop.time() if self._loop is not None else 0.0
        for state in self._states.values():
            if not state.subscription.accepts(event.event_type):
                continue
            copies = 2 if self._rng.random() < self._duplicate_fraction else 1
            for copy in range(copies):
                delivery = Delivery(event=published, subscription=state.name, copy=copy, published_at=now)
                self._ledger.add(delivery)
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

    def _hold(self, delivery: Delivery) -> None:
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

    def _dispatch(self, delivery: Delivery) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._deliver(delivery), name=f"eventgrid-deliver-{delivery.event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------------------------- delivering

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self._deliver_until_done(delivery)
        except asyncio.CancelledError:
            self._finish(delivery, DeliveryOutcome.ABANDONED)
            raise
        except Exception:  # a bug here must not kill the loop or leak into publish()
            _log.exception("event %s: delivery crashed", delivery.event.id)
            self._finish(delivery, DeliveryOutcome.DROPPED)

    async def _deliver_until_done(self, delivery: Delivery) -> None:
        assert self._loop is not None
        state, event = self._states[delivery.subscription], delivery.event
        sub = state.subscription
        deadline = delivery.published_at + sub.ttl_seconds
        if not state.validated.is_set():
            try:
                async with asyncio.timeout_at(deadline):
                    await state.validated.wait()
            except TimeoutError:
                self._dead_letter(delivery, "TimeToLiveExceeded")
                return
        payload = body(event.envelope(sub.schema), sub.schema)
        while True:
            async with state.semaphore:
                result = await self._attempt(sub, state.name, payload, delivery_count=delivery.attempts)
            self._ledger.attempted(delivery, result, self._clock())
            if result.succeeded:
                self._finish(delivery, DeliveryOutcome.DELIVERED)
                return
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
        self, sub: Subscription, name: str, payload: bytes, *, delivery_count: int
    ) -> AttemptResult:
        assert self._session is not None
        headers = notification_headers(sub.schema, name, delivery_count=delivery_count)
        timeout = aiohttp.ClientTimeout(total=sub.delivery_timeout)
        try:
            async with self._session.post(
                sub.endpoint, data=payload, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                return AttemptResult(response.status, outcome_name(response.status))
        except TimeoutError:
            return AttemptResult(None, "TimedOut")
        except aiohttp.ClientError as error:
            _log.debug("delivery to %s: %s", sub.display_endpoint, type(error).__name__)
            return AttemptResult(None, "GenericError")

    def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        sub, event = self._states[delivery.subscription].subscription, delivery.event
        delivery.dead_letter_reason = reason
        status = "" if delivery.last_status is None else f" {delivery.last_status}"
        summary = f"{reason}, {delivery.attempts} attempts, last {delivery.last_outcome}{status}"
        if sub.dead_letter_path is None:
            _log.warning(
                "event %s (%s) to %s: failed (%s); no dead-letter file: dropped",
                event.id,
                event.event_type,
                delivery.subscription,
                summary,
            )
            self._finish(delivery, DeliveryOutcome.DROPPED)
            return
        now = self._clock()
        line = dead_letter_line(delivery, sub.schema, reason, now)
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
            "event %s (%s) to %s: dead-lettered (%s)",
            event.id,
            event.event_type,
            delivery.subscription,
            summary,
        )
        self._finish(delivery, DeliveryOutcome.DEAD_LETTERED)

    def _finish(self, delivery: Delivery, outcome: DeliveryOutcome) -> None:
        if self._ledger.finish(delivery, outcome):
            self._outstanding_changed()

    def _outstanding_changed(self) -> None:
        if self._idle is None:
            return
        if self._ledger.pending == 0:
            self._idle.set()
        else:
            self._idle.clear()


def _check_window(seconds: float) -> float:
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"reorder_window must be >= 0 seconds, got {seconds}")
    return float(seconds)
