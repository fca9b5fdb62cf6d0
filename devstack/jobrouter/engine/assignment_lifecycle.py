"""Assignments: an accepted offer assigns the job; complete, close or unassign end the assignment.

Accepting revokes the job's other offers and moves the offer's capacity to the assignment. ``complete``
starts wrap-up (capacity still held), ``close`` releases the capacity (now or at ``closeAt``),
``unassign`` puts the job back in its queue (at most three times), or makes it wait for activation with
``suspendMatching``.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Final

from devstack.jobrouter import event_payloads as events
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.job_lifecycle import add_note, enqueue, leave_matching, require_job
from devstack.jobrouter.engine.job_scheduling import wait_for_activation
from devstack.jobrouter.engine.job_statuses import TERMINAL_JOB_STATUSES
from devstack.jobrouter.engine.offer_lifecycle import (
    find_offer,
    offer_or_error,
    record_wait,
    revoke,
    take_offer,
)
from devstack.jobrouter.engine.record_refs import job_ref, offer_ref
from devstack.jobrouter.engine.worker_state import refresh_worker, release_assignment
from devstack.jobrouter.errors import BadRequest, NotFound
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, format_time, parse_time

__all__ = [
    "MAX_UNASSIGNMENTS",
    "accept_offer",
    "close_job",
    "complete_job",
    "finish_close",
    "finish_unassign",
    "pending_close_at",
    "unassign_job",
]

MAX_UNASSIGNMENTS: Final = 3


def accept_offer(ctx: EngineContext, worker_id: str, offer_id: str) -> JsonObject:
    """Accept: the job becomes assigned to the worker; every other offer for it is revoked."""
    worker, offer = offer_or_error(ctx, worker_id, offer_id, "AcceptOfferCommandHandler")
    job = take_offer(ctx, worker, offer)
    if job is None:
        raise NotFound(
            f"AcceptOfferCommandHandler: Offer not found. OfferId: {offer_id}, WorkerId: {worker_id}"
        )
    now = ctx.now()
    assignment_id = str(uuid.uuid4())
    job.body["status"] = "assigned"
    job.body.setdefault("assignments", {})[assignment_id] = {
        "assignmentId": assignment_id,
        "workerId": worker_id,
        "assignedAt": format_time(now),
    }
    worker.body.setdefault("assignedJobs", []).append(
        {
            "assignmentId": assignment_id,
            "jobId": str(job.body["id"]),
            "capacityCost": int(offer["capacityCost"]),
            "assignedAt": format_time(now),
        }
    )
    refresh_worker(ctx, worker)
    record_wait(ctx, job, now)
    ctx.emit(
        events.offer_accepted(
            offer_ref(worker, offer, job),
            assignment_id=assignment_id,
            job_priority=job.body.get("priority"),
            job_labels=job.body.get("labels", {}),
            job_tags=job.body.get("tags", {}),
            worker_labels=worker.body.get("labels", {}),
            worker_tags=worker.body.get("tags", {}),
        )
    )
    for other_offer_id, other_worker_id in list(job.internal.get("offers", {}).items()):
        other = ctx.store.get("workers", other_worker_id)
        other_offer = find_offer(other, other_offer_id) if other is not None else None
        if other is not None and other_offer is not None:
            revoke(ctx, other, other_offer, reason="acceptedByAnotherWorker")
    leave_matching(ctx, job)
    ctx.touch("jobs", job)
    ctx.request_dispatch()
    return {"assignmentId": assignment_id, "jobId": str(job.body["id"]), "workerId": worker_id}


def _assignment(job: Record, assignment_id: str) -> JsonObject:
    assignment = job.body.get("assignments", {}).get(assignment_id)
    if assignment is None or job.internal.get("pendingUnassign") == assignment_id:
        raise NotFound(f"Assignment not found. AssignmentId: {assignment_id}, JobId: {job.body['id']}")
    return assignment  # type: ignore[no-any-return]


def complete_job(ctx: EngineContext, job_id: str, assignment_id: str, note: str | None) -> None:
    """Complete: the assignment ends, wrap-up begins (capacity is held until close)."""
    job = require_job(ctx, job_id)
    assignment = _assignment(job, assignment_id)
    if job.body.get("status") != "assigned" or "completedAt" in assignment:
        raise BadRequest(f"Job {job_id!r} cannot be completed in status {job.body.get('status')!r}.")
    assignment["completedAt"] = format_time(ctx.now())
    job.body["status"] = "completed"
    add_note(ctx, job, note)
    ctx.touch("jobs", job)
    ctx.emit(
        events.job_completed(job_ref(job), assignment_id=assignment_id, worker_id=assignment.get("workerId"))
    )


def close_job(
    ctx: EngineContext,
    job_id: str,
    assignment_id: str,
    *,
    disposition_code: str | None,
    close_at: datetime | None,
    note: str | None,
) -> None:
    """Close: release the worker's capacity now or at ``closeAt``."""
    job = require_job(ctx, job_id)
    assignment = _assignment(job, assignment_id)
    if job.body.get("status") not in ("assigned", "completed") or "closedAt" in assignment:
        raise BadRequest(f"Job {job_id!r} cannot be closed in status {job.body.get('status')!r}.")
    job.body["dispositionCode"] = disposition_code or "Closed"
    add_note(ctx, job, note)
    ctx.touch("jobs", job)
    if close_at is not None and close_at > ctx.now():
        job.internal["pendingClose"] = {"assignmentId": assignment_id, "at": format_time(close_at)}
        ctx.timers.at(("close", job_id), close_at, lambda: finish_close(ctx, job_id))
        return
    finish_close(ctx, job_id, assignment_id)


def finish_close(ctx: EngineContext, job_id: str, assignment_id: str | None = None) -> None:
    """The close takes effect: the job is ``closed`` and the worker's capacity released."""
    job = ctx.store.get("jobs", job_id)
    if job is None:
        return
    pending = job.internal.pop("pendingClose", None)
    if assignment_id is None:
        if pending is None:
            return
        assignment_id = str(pending["assignmentId"])
    assignment = job.body.get("assignments", {}).get(assignment_id)
    if assignment is None or job.body.get("status") in TERMINAL_JOB_STATUSES:
        return
    assignment["closedAt"] = format_time(ctx.now())
    job.body["status"] = "closed"
    ctx.touch("jobs", job)
    worker_id = assignment.get("workerId")
    release_assignment(ctx, assignment_id, worker_id)
    ctx.emit(
        events.job_closed(
            job_ref(job),
            assignment_id=assignment_id,
            worker_id=worker_id,
            disposition_code=job.body.get("dispositionCode"),
        )
    )
    ctx.request_dispatch()


def unassign_job(ctx: EngineContext, job_id: str, assignment_id: str, suspend_matching: bool) -> JsonObject:
    """Unassign: the job goes back to its queue (or waits for activation with ``suspendMatching``).

    Without ``suspendMatching`` the job and the worker keep showing the assignment until the job is
    processed (``processing_delay``), as the live service did; then the capacity is released and the job
    re-queued and offered again.
    """
    job = require_job(ctx, job_id)
    assignment = _assignment(job, assignment_id)
    if job.body.get("status") != "assigned" or "completedAt" in assignment:
        raise BadRequest(f"Job {job_id!r} cannot be unassigned in status {job.body.get('status')!r}.")
    count = int(job.internal.get("unassignments", 0)) + 1
    if count > MAX_UNASSIGNMENTS:
        raise BadRequest(f"Job {job_id!r} has been unassigned {MAX_UNASSIGNMENTS} times, the maximum.")
    job.internal["unassignments"] = count
    worker_id = assignment.get("workerId")
    ctx.emit(events.job_unassigned(job_ref(job), assignment_id=assignment_id, worker_id=worker_id))
    if suspend_matching:
        del job.body["assignments"][assignment_id]
        release_assignment(ctx, assignment_id, worker_id)
        job.body["matchingMode"] = {"kind": "suspend"}
        wait_for_activation(ctx, job)
    else:
        job.internal["pendingUnassign"] = assignment_id
        ctx.store.touch("jobs", job_id, ctx.now(), changed=False)
        ctx.later(("unassign", job_id), functools.partial(finish_unassign, ctx, job_id))
    return {"jobId": job_id, "unassignmentCount": count}


def finish_unassign(ctx: EngineContext, job_id: str) -> None:
    """The unassignment takes effect: capacity released, the job re-queued."""
    job = ctx.store.get("jobs", job_id)
    if job is None:
        return
    assignment_id = job.internal.pop("pendingUnassign", None)
    ctx.store.touch("jobs", job_id, ctx.now(), changed=False)
    if assignment_id is None or job.body.get("status") != "assigned":
        return
    assignment = job.body.get("assignments", {}).pop(assignment_id, None)
    if assignment is None:
        return
    release_assignment(ctx, assignment_id, assignment.get("workerId"))
    enqueue(ctx, job, queue_changed=False)


def pending_close_at(job: Record) -> datetime | None:
    """When a deferred close takes effect (for resuming its timer), or None."""
    pending = job.internal.get("pendingClose")
    return parse_time(pending["at"], field="closeAt") if pending is not None else None
