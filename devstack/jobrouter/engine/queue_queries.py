"""Queue queries: a queue's statistics and a queued job's position, estimated from past waits.

Each accepted offer records the job's time in queue per queue and priority (``meta.waits``); estimates
are the average of those waits (times the position, for a job's estimate).
"""

from __future__ import annotations

from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.job_lifecycle import queued_jobs, require_job
from devstack.jobrouter.errors import BadRequest, NotFound
from devstack.jobrouter.wire import JsonObject, normalize_numbers, parse_time

__all__ = ["queue_position", "queue_statistics"]


def queue_statistics(ctx: EngineContext, queue_id: str) -> JsonObject:
    """Length, estimated wait per priority (past waits in this queue) and the longest current wait."""
    if ctx.store.get("queues", queue_id) is None:
        raise NotFound()
    now = ctx.now()
    queued = queued_jobs(ctx, queue_id)
    estimates: JsonObject = {}
    for key, (total, count) in ctx.store.meta.get("waits", {}).items():
        qid, _, priority = key.rpartition("|")
        if qid == queue_id and count:
            estimates[priority] = round(float(total) / int(count), 4)
    longest = max(
        ((now - parse_time(j.body["enqueuedAt"], field="enqueuedAt")).total_seconds() / 60.0 for j in queued),
        default=0.0,
    )
    return {
        "queueId": queue_id,
        "length": len(queued),
        "estimatedWaitTimeMinutes": estimates,
        "longestJobWaitTimeMinutes": normalize_numbers(round(longest, 4)),
    }


def queue_position(ctx: EngineContext, job_id: str) -> JsonObject:
    """The job's 1-based position in its queue (priority, then age)."""
    job = require_job(ctx, job_id)
    if job.body.get("status") != "queued":
        raise BadRequest(f"Job {job_id!r} is not queued (status {job.body.get('status')!r}).")
    queue_id = str(job.body["queueId"])
    position = ctx.index.position(job_id)
    assert position is not None, "a queued job is in the matching index"
    waits = ctx.store.meta.get("waits", {}).get(f"{queue_id}|{job.body.get('priority', 1)}")
    estimate = float(waits[0]) / int(waits[1]) if waits and waits[1] else 0.0
    return {
        "jobId": job_id,
        "position": position,
        "queueId": queue_id,
        "queueLength": ctx.index.queued_count(queue_id),
        "estimatedWaitTimeMinutes": normalize_numbers(round(estimate * position, 4)),
    }
