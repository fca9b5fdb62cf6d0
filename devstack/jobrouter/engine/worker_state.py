"""A worker's derived state: ``state`` and ``loadRatio`` from its capacity, offers and assigned jobs.

Offers, assignments and the worker's own lifecycle all change what a worker holds; each then calls
:func:`refresh_worker` so the derived fields (and the record's etag) follow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.matching import capacity_left
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, format_time, normalize_numbers

__all__ = ["queue_details", "refresh_worker", "release_assignment"]


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
    ctx.touch("workers", record)


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
