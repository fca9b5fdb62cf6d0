"""Resume after a restart: re-arm every timer the stored state implies, then run a matching pass.

Offers get their expiry (already past: they expire at once), idle workers their idle deregistration,
unprocessed jobs their processing, scheduled jobs their activation, queued jobs their selector expiry and
wait-time triggers, declined offers their ``retryOfferAt``, and deferred unassignments and closes their
completion.
"""

from __future__ import annotations

import functools

from devstack.jobrouter.engine import exception_rules
from devstack.jobrouter.engine.assignment_lifecycle import finish_close, finish_unassign, pending_close_at
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.job_lifecycle import process
from devstack.jobrouter.engine.job_scheduling import arm_schedule, arm_selector_expiry
from devstack.jobrouter.engine.offer_expiry import arm_offer_expiry
from devstack.jobrouter.engine.offer_lifecycle import retry_due
from devstack.jobrouter.engine.worker_state import arm_idle_timer
from devstack.jobrouter.wire import parse_time

__all__ = ["resume"]


def resume(ctx: EngineContext) -> None:
    """Re-arm every timer the stored state implies (after attach, e.g. on restart with a state file)."""
    for worker in ctx.store.all("workers"):
        for offer in worker.body.get("offers", []):
            arm_offer_expiry(ctx, worker, offer)
        arm_idle_timer(ctx, worker)
    for job in ctx.store.all("jobs"):
        job_id = str(job.body["id"])
        status = job.body.get("status")
        if status in ("created", "pendingClassification", "pendingSchedule"):
            ctx.later(("process", job_id), functools.partial(process, ctx, job_id))
        elif status == "scheduled":
            arm_schedule(ctx, job)
        elif status == "queued":
            arm_selector_expiry(ctx, job)
            exception_rules.arm_wait_time_triggers(ctx, job)
        for worker_id, at in job.internal.get("retryAt", {}).items():
            ctx.timers.at(
                ("retry", job_id, worker_id),
                parse_time(at, field="retryAt"),
                functools.partial(retry_due, ctx, job_id, worker_id),
            )
        if job.internal.get("pendingUnassign") is not None:
            ctx.later(("unassign", job_id), functools.partial(finish_unassign, ctx, job_id))
        close_at = pending_close_at(job)
        if close_at is not None:
            ctx.timers.at(("close", job_id), close_at, functools.partial(finish_close, ctx, job_id))
    ctx.request_dispatch()
