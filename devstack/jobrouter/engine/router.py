"""The :class:`Router`: the engine's one entry point, which the HTTP layer and the server call.

It builds the :class:`~.engine_context.EngineContext`, routes each resource kind's upsert and delete to
its lifecycle module, and exposes the actions (offers, assignments, queue queries) and plumbing (attach
to a loop, commit, reset). Every public method runs on the event loop thread and completes without
awaiting, so each request (and each timer callback) is atomic with respect to every other. After a call
the HTTP layer calls :meth:`Router.commit`; timer callbacks and matching passes commit themselves.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable
from datetime import datetime

from devstack.jobrouter.engine import (
    administration,
    assignment_lifecycle,
    dispatch,
    job_lifecycle,
    offer_lifecycle,
    queue_queries,
    resume,
    worker_lifecycle,
)
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.matching_index import MatchingIndex
from devstack.jobrouter.errors import BadRequest, NotFound
from devstack.jobrouter.event_types import RouterEvent
from devstack.jobrouter.resources import WRITABLE, check_patch_fields, writable_part
from devstack.jobrouter.rule_call_tasks import RuleCallTasks
from devstack.jobrouter.rule_http import HttpRuleCaller, RuleCaller
from devstack.jobrouter.store import Record, StateWriteError, Store
from devstack.jobrouter.timers import Clock, Timers
from devstack.jobrouter.wire import JsonObject, merge_patch, normalize_numbers

__all__ = ["Precondition", "Router"]

#: A check on the stored resource (None when absent) before an upsert changes it; raises to refuse.
Precondition = Callable[[Record | None], None]


#: An upsert of one resource kind: (context, id, merged body, writable patch, stored record) -> record.
_Upsert = Callable[[EngineContext, str, JsonObject, JsonObject, Record | None], Record]

_UPSERTS: dict[str, _Upsert] = {
    "distributionPolicies": administration.upsert_distribution_policy,
    "queues": administration.upsert_queue,
    "classificationPolicies": administration.upsert_classification_policy,
    "exceptionPolicies": administration.upsert_exception_policy,
    "workers": worker_lifecycle.upsert_worker,
    "jobs": job_lifecycle.upsert_job,
}


def _log_state_lost(exc: StateWriteError) -> None:
    logging.getLogger(__name__).critical("%s", exc)


class Router:
    """All Job Router behaviour; the HTTP layer only parses requests and renders results."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        publish: Callable[[RouterEvent], None],
        rng: random.Random | None = None,
        processing_delay: float = 0.0,
        default_offer_expiry_seconds: float = 31_536_000.0,
        rule_caller: RuleCaller | None = None,
        worker_idle_seconds: float = 7 * 24 * 3600.0,
    ) -> None:
        self.store = store
        self._ctx = EngineContext(
            store=store,
            index=MatchingIndex(store),
            clock=clock,
            publish=publish,
            rng=rng or random.Random(),
            processing_delay=processing_delay,
            default_offer_expiry_seconds=default_offer_expiry_seconds,
            rule_calls=RuleCallTasks(rule_caller or HttpRuleCaller()),
            worker_idle_seconds=worker_idle_seconds,
        )
        self._ctx.deregister_idle = functools.partial(worker_lifecycle.deregister_idle, self._ctx)
        self._ctx.run_dispatch = functools.partial(dispatch.run_dispatch, self._ctx)
        self._ctx.commit = self.commit_or_stop
        #: Called when a change could not be written to the state file (the server stops the emulator).
        self.on_state_lost: Callable[[StateWriteError], None] = _log_state_lost
        store.listen(self._ctx.index.record_changed)

    # ---------------------------------------------------------------------------------- plumbing

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start timers on ``loop`` and resume what a restored state needs (expired offers expire now)."""
        self._ctx.loop = loop
        self._ctx.attached_timers = Timers(loop, self._ctx.clock, on_fire=self.commit_or_stop)
        resume.resume(self._ctx)
        self.commit()

    async def stop_rule_calls(self) -> None:
        """Cancel the function/webhook rule calls in flight and close their HTTP session."""
        if self._ctx.rule_calls is not None:
            await self._ctx.rule_calls.close()

    def close(self) -> None:
        """Cancel all timers and close the store."""
        if self._ctx.attached_timers is not None:
            self._ctx.attached_timers.close()
        self.store.close()

    def commit(self) -> None:
        """Write the changes of the last operation to the state file (if any); ``StateWriteError`` if not."""
        self.store.flush()

    def commit_or_stop(self) -> None:
        """Write the changes of a timer or matching pass; a failure goes to :attr:`on_state_lost`."""
        try:
            self.store.flush()
        except StateWriteError as exc:
            self.on_state_lost(exc)

    def now(self) -> datetime:
        """The engine's clock."""
        return self._ctx.now()

    @property
    def context(self) -> EngineContext:
        """The context every lifecycle function takes (for tools and tests that call one directly)."""
        return self._ctx

    @property
    def timers(self) -> Timers:
        """The timer set (only after :meth:`attach`)."""
        return self._ctx.timers

    def reset(self) -> None:
        """Forget everything (admin reset)."""
        for key in list(self.timers.pending()):
            self.timers.cancel(key)
        self.store.clear()
        self._ctx.scores.books.clear()
        self._ctx.index.rebuild()

    # ------------------------------------------------------------------------------- resources

    def get(self, kind: str, resource_id: str) -> Record:
        """The record or :class:`NotFound`."""
        record = self.store.get(kind, resource_id)
        if record is None:
            raise NotFound()
        return record

    def list_records(self, kind: str, predicate: Callable[[Record], bool] | None = None) -> list[Record]:
        """Records newest first, optionally filtered."""
        records = [r for r in self.store.all(kind) if predicate is None or predicate(r)]
        return sorted(records, key=lambda r: r.seq, reverse=True)

    def upsert(
        self, kind: str, resource_id: str, patch: JsonObject, precondition: Precondition | None = None
    ) -> tuple[bool, Record]:
        """Create or merge-patch a resource; returns (created, record).

        ``precondition`` sees the stored resource once the patch's fields are known to be valid, and may
        refuse the change by raising (the HTTP layer's conditional headers).
        """
        if not resource_id:
            raise BadRequest("The resource id must not be empty.")
        check_patch_fields(kind, patch)
        existing = self.store.get(kind, resource_id)
        if precondition is not None:
            precondition(existing)
        writable_patch = normalize_numbers({k: v for k, v in patch.items() if k in WRITABLE[kind]})
        previous = existing.body if existing is not None else None
        merged = merge_patch(writable_part(kind, previous) if previous else {}, writable_patch)
        record = _UPSERTS[kind](self._ctx, resource_id, merged, writable_patch, existing)
        return existing is None, record

    def delete(self, kind: str, resource_id: str) -> None:
        """Delete (idempotent: deleting something already gone succeeds, as the service's 204 shows)."""
        record = self.store.get(kind, resource_id)
        if record is None:
            return
        if kind == "jobs":
            job_lifecycle.delete_job(self._ctx, record)
        elif kind == "workers":
            worker_lifecycle.delete_worker(self._ctx, record)
        elif kind == "queues":
            administration.delete_queue(self._ctx, resource_id)
        else:
            self.store.delete(kind, resource_id)

    # --------------------------------------------------------------------------------- actions

    def accept_offer(self, worker_id: str, offer_id: str) -> JsonObject:
        """Accept: the job becomes assigned to the worker; every other offer for it is revoked."""
        return assignment_lifecycle.accept_offer(self._ctx, worker_id, offer_id)

    def decline_offer(self, worker_id: str, offer_id: str, retry_offer_at: datetime | None) -> None:
        """Decline, optionally allowing the job to be offered to the worker again from ``retry_offer_at``."""
        offer_lifecycle.decline_offer(self._ctx, worker_id, offer_id, retry_offer_at)

    def complete_job(self, job_id: str, assignment_id: str, note: str | None) -> None:
        """Complete: the assignment ends, wrap-up begins (capacity is held until close)."""
        assignment_lifecycle.complete_job(self._ctx, job_id, assignment_id, note)

    def close_job(
        self,
        job_id: str,
        assignment_id: str,
        disposition_code: str | None,
        close_at: datetime | None,
        note: str | None,
    ) -> None:
        """Close: release the worker's capacity now or at ``closeAt``."""
        assignment_lifecycle.close_job(
            self._ctx, job_id, assignment_id, disposition_code=disposition_code, close_at=close_at, note=note
        )

    def unassign_job(self, job_id: str, assignment_id: str, suspend_matching: bool) -> JsonObject:
        """Unassign: back to the queue, or waiting for activation with ``suspendMatching``."""
        return assignment_lifecycle.unassign_job(self._ctx, job_id, assignment_id, suspend_matching)

    def cancel_job(self, job_id: str, note: str | None, disposition_code: str | None) -> None:
        """Cancel: the job leaves matching (offers revoked) and any assignment's capacity is released."""
        job_lifecycle.cancel_job(self._ctx, job_id, note, disposition_code)

    def reclassify_job(self, job_id: str) -> None:
        """Reclassify with the job's classification policy."""
        job_lifecycle.reclassify_job(self._ctx, job_id)

    def queue_statistics(self, queue_id: str) -> JsonObject:
        """Length, estimated wait per priority and the longest current wait."""
        return queue_queries.queue_statistics(self._ctx, queue_id)

    def queue_position(self, job_id: str) -> JsonObject:
        """The job's 1-based position in its queue (priority, then age)."""
        return queue_queries.queue_position(self._ctx, job_id)
