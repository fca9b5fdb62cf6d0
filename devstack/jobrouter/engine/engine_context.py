"""The engine's shared context: store, matching index, clock, timers, events, rule calls and settings.

Every lifecycle module of the engine is a set of functions whose first argument is the one
:class:`EngineContext` the :class:`~devstack.jobrouter.engine.router.Router` builds. It holds no routing
rules itself: it stamps changes (:meth:`EngineContext.touch`), publishes events, arms timers and asks for
a matching pass, which runs once per loop turn however many changes asked for it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devstack.jobrouter.engine.matching_index import MatchingIndex
from devstack.jobrouter.engine.worker_scores import ScoreBooks
from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.event_types import RouterEvent
from devstack.jobrouter.rule_call_tasks import RuleCallTasks
from devstack.jobrouter.store import Record, Store
from devstack.jobrouter.timers import Clock, Timers

__all__ = ["EngineContext"]

log = logging.getLogger(__name__)


def _nothing() -> None:
    return None


@dataclass(eq=False, slots=True)
class EngineContext:
    """What every lifecycle function needs; ``timers`` and the loop exist once the router is attached."""

    store: Store
    #: Queued jobs and workers with room by (queue, channel), and the changes since the last pass.
    index: MatchingIndex
    clock: Clock
    publish: Callable[[RouterEvent], None]
    rng: random.Random
    processing_delay: float
    default_offer_expiry_seconds: float
    #: How long a registered worker may stay idle before it is deregistered (the service: 7 days).
    worker_idle_seconds: float = 7 * 24 * 3600.0
    #: Deregisters a worker that stayed idle that long (set by the router).
    deregister_idle: Callable[[str], None] = lambda _worker_id: None
    #: Runs one matching pass (set by the router; called at most once per loop turn).
    run_dispatch: Callable[[], None] = _nothing
    #: Writes the changes of a timer or matching pass (set by the router; never raises).
    commit: Callable[[], None] = _nothing
    loop: asyncio.AbstractEventLoop | None = None
    attached_timers: Timers | None = None
    dispatch_pending: bool = field(default=False)
    #: Function/webhook rule calls in flight (classification and best-worker scoring).
    rule_calls: RuleCallTasks | None = None
    #: Scores of queued jobs' candidates under a scoring rule (:mod:`.worker_scores`).
    scores: ScoreBooks = field(default_factory=ScoreBooks)

    def now(self) -> datetime:
        """The engine's clock."""
        return self.clock.now()

    @property
    def timers(self) -> Timers:
        """The timer set (only after the router is attached to a loop)."""
        assert self.attached_timers is not None, "Router.attach() must be called first"
        return self.attached_timers

    def emit(self, event: RouterEvent) -> None:
        """Publish an event; a failing publisher is logged, never allowed to break the engine."""
        try:
            self.publish(event)
        except Exception:
            log.exception("publishing %s failed", event.event_type)

    def touch(self, kind: str, record: Record) -> None:
        """Mark a record changed (new etag and Last-Modified) for the next write."""
        self.store.touch(kind, str(record.body["id"]), self.now())

    def request_dispatch(self) -> None:
        """Ask for a matching pass at the next loop turn (once, however often it is asked)."""
        if self.dispatch_pending or self.loop is None:
            return
        self.dispatch_pending = True
        self.loop.call_soon(self._dispatch_now)

    def _dispatch_now(self) -> None:
        self.dispatch_pending = False
        self.run_dispatch()

    def later(self, key: tuple[str, ...], fn: Callable[[], None], delay: float | None = None) -> None:
        """Run ``fn`` after ``delay`` seconds (default: the processing delay); replaces ``key``'s timer."""
        when = self.now() + timedelta(seconds=self.processing_delay if delay is None else delay)
        self.timers.at(key, when, fn)

    def cancel_job_timers(self, job_id: str, kinds: tuple[str, ...] | None = None) -> None:
        """Cancel the job's timers (those of ``kinds`` only, when given)."""
        self.timers.cancel_owned(job_id, kinds)

    def require_reference(self, kind: str, resource_id: Any, field_name: str) -> None:
        """A resource a field refers to (``queueId``...) must exist; None refers to nothing."""
        if resource_id is not None and self.store.get(kind, str(resource_id)) is None:
            singular = kind[:-1] if not kind.endswith("ies") else kind[:-3] + "y"
            raise BadRequest(f"'{field_name}' refers to {singular} {resource_id!r}, which does not exist.")
