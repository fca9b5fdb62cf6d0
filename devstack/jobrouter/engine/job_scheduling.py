"""Time-driven job states: ``scheduleAndSuspend`` jobs waiting for their time, and worker selector expiry.

A ``scheduleAndSuspend`` job is ``scheduled`` until its ``scheduleAt``, then ``waitingForActivation``
(so is a ``suspend`` job, and a job unassigned with ``suspendMatching``) until an update moves it on.
Worker selectors with ``expiresAfterSeconds`` expire that long after the job was queued: they stop
constraining matching and RouterJobWorkerSelectorsExpired is published.
"""

from __future__ import annotations

from dataclasses import replace

from devstack.jobrouter import event_payloads as events
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.record_refs import job_ref
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, parse_time

__all__ = [
    "activate_scheduled",
    "arm_schedule",
    "arm_selector_expiry",
    "expire_selectors",
    "wait_for_activation",
]


def wait_for_activation(ctx: EngineContext, job: Record) -> None:
    """The job waits (unavailable for matching) until an update activates it."""
    body = job.body
    body["status"] = "waitingForActivation"
    ctx.touch("jobs", job)
    mode = body.get("matchingMode", {})
    ctx.emit(
        events.job_waiting_for_activation(
            job_ref(job),
            scheduled_on=parse_time(mode["scheduleAt"], field="scheduleAt") if "scheduleAt" in mode else None,
            unavailable_for_matching=True,
            priority=body.get("priority"),
            expired_attached_worker_selectors=[
                s for s in body.get("attachedWorkerSelectors", []) if s.get("status") == "expired"
            ],
            expired_requested_worker_selectors=[
                s for s in body.get("requestedWorkerSelectors", []) if s.get("status") == "expired"
            ],
        )
    )


def arm_schedule(ctx: EngineContext, job: Record) -> None:
    """Arm the timer that activates a scheduled job at its ``scheduleAt``."""
    job_id = str(job.body["id"])
    at = parse_time(job.body["matchingMode"]["scheduleAt"], field="scheduleAt")
    ctx.timers.at(("schedule", job_id), at, lambda: activate_scheduled(ctx, job_id))


def activate_scheduled(ctx: EngineContext, job_id: str) -> None:
    """A scheduled job's time has come: it waits for activation."""
    job = ctx.store.get("jobs", job_id)
    if job is None or job.body.get("status") != "scheduled":
        return
    if job.body.get("matchingMode", {}).get("kind") != "scheduleAndSuspend":
        return
    wait_for_activation(ctx, job)


def arm_selector_expiry(ctx: EngineContext, job: Record) -> None:
    """Arm (or cancel) the timer for the queued job's next worker selector expiry."""
    job_id = str(job.body["id"])
    pending = [
        parse_time(s["expiresAt"], field="expiresAt")
        for key in ("requestedWorkerSelectors", "attachedWorkerSelectors")
        for s in job.body.get(key, [])
        if s.get("status") == "active" and "expiresAt" in s
    ]
    if pending and job.body.get("status") == "queued":
        ctx.timers.at(("selectors", job_id), min(pending), lambda: expire_selectors(ctx, job_id))
    else:
        ctx.timers.cancel(("selectors", job_id))


def expire_selectors(ctx: EngineContext, job_id: str) -> None:
    """Expire the queued job's selectors whose time has come and publish which ones."""
    job = ctx.store.get("jobs", job_id)
    if job is None or job.body.get("status") != "queued":
        return
    now = ctx.now()
    expired: dict[str, list[JsonObject]] = {"requestedWorkerSelectors": [], "attachedWorkerSelectors": []}
    for key, found in expired.items():
        for sel in job.body.get(key, []):
            if (
                sel.get("status") == "active"
                and "expiresAt" in sel
                and parse_time(sel["expiresAt"], field="expiresAt") <= now
            ):
                sel["status"] = "expired"
                found.append(sel)
    if expired["requestedWorkerSelectors"] or expired["attachedWorkerSelectors"]:
        ctx.touch("jobs", job)
        ctx.emit(
            events.job_worker_selectors_expired(
                replace(job_ref(job), queue_id=str(job.body["queueId"])),
                expired_requested_worker_selectors=expired["requestedWorkerSelectors"],
                expired_attached_worker_selectors=expired["attachedWorkerSelectors"],
            )
        )
        ctx.request_dispatch()
    arm_selector_expiry(ctx, job)
