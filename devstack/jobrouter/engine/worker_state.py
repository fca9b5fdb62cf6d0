"""A worker's derived state: ``state``, ``loadRatio`` and its idle clock, from what it holds.

Offers, assignments and the worker's own lifecycle all change what a worker holds; each then calls
:func:`refresh_worker` so the derived fields (and the record's etag) follow, and so does the idle clock:
a registered worker holding no offer and no job is idle from that moment, and the service deregisters a
worker idle for 7 days (``EngineContext.worker_idle_seconds``; docs/emulator-support-matrix.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Final

from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.matching import capacity_left
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, format_time, normalize_numbers, parse_time

__all__ = [
    "IDLE_FROM",
    "arm_idle_timer",
    "idle_timer_key",
    "queue_details",
    "refresh_worker",
    "release_assignment",
]

#: The worker's ``internal`` key: when it became idle (registered, holding nothing); absent while not idle.
IDLE_FROM: Final = "idleFrom"


def idle_timer_key(worker_id: str) -> str:
    """The idle timer's key: a plain string, so no job's timers (owned by the job id) ever include it."""
    return f"idle:{worker_id}"


def refresh_worker(ctx: EngineContext, record: Record) -> None:
    """Recompute state and loadRatio, then mark the worker modified."""
    body = record.body
    capacity = int(body.get("capacity", 0))
    used = capacity - capacity_left(body)
    body["loadRatio"] = normalize_numbers(round(used / capacity, 6)) if capacity > 0 else 0
    if body.get("availableForOffers"):
        body["state"] = "active"
    else:
        body["state"] = "draining" if body.get("assignedJobs") else "inactive"
    _watch_idle(ctx, record)
    ctx.touch("workers", record)


def _watch_idle(ctx: EngineContext, record: Record) -> None:
    """Start the idle clock when the worker becomes idle; stop it when it gets work or is deregistered."""
    body = record.body
    idle = bool(body.get("availableForOffers")) and not body.get("offers") and not body.get("assignedJobs")
    if idle and IDLE_FROM not in record.internal:
        record.internal[IDLE_FROM] = format_time(ctx.now())
        arm_idle_timer(ctx, record)
    elif not idle and IDLE_FROM in record.internal:
        del record.internal[IDLE_FROM]
        if ctx.attached_timers is not None:
            ctx.timers.cancel(idle_timer_key(str(body["id"])))


def arm_idle_timer(ctx: EngineContext, record: Record) -> None:
    """Arm the timer that deregisters the worker once it has been idle ``worker_idle_seconds``."""
    idle_from = record.internal.get(IDLE_FROM)
    if idle_from is None or ctx.attached_timers is None:
        return  # not idle, or not attached yet (resume arms it)
    worker_id = str(record.body["id"])
    due = parse_time(idle_from, field=IDLE_FROM) + timedelta(seconds=ctx.worker_idle_seconds)
    ctx.timers.at(idle_timer_key(worker_id), due, lambda: ctx.deregister_idle(worker_id))


def release_assignment(ctx: EngineContext, assignment_id: str, worker_id: Any) -> None:
    """Remove an assignment's capacity from its worker (if the worker still exists)."""
    worker = ctx.store.get("workers", str(worker_id)) if worker_id is not None else None
    if worker is None:
        return
    worker.body["assignedJobs"] = [
        a for a in worker.body.get("assignedJobs", []) if a.get("assignmentId") != assignment_id
    ]
    if not worker.body["assignedJobs"] and not worker.body.get("offers"):
        worker.internal["idleSince"] = format_time(ctx.now())
    refresh_worker(ctx, worker)
    ctx.request_dispatch()


def queue_details(ctx: EngineContext, queue_ids: Iterable[str]) -> list[JsonObject]:
    """The worker's queues as worker events describe them (a deleted queue keeps its id only)."""
    details = []
    for qid in queue_ids:
        queue = ctx.store.get("queues", qid)
        details.append(queue.body if queue is not None else {"id": qid, "labels": {}})
    return details
