"""The matching pass: offer queued jobs to eligible workers, in the distribution mode's order.

Queued jobs are taken by priority (highest first), then time in queue, then creation; each gets offers
up to its distribution policy's ``maxConcurrentOffers`` (minus the offers it already has), to the eligible
workers (:mod:`devstack.jobrouter.eligibility`) in the mode's order (:mod:`devstack.jobrouter.matching`).
A pass runs at most once per event loop turn, after whatever changes asked for it.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from devstack.jobrouter.eligibility import candidate
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.offer_expiry import arm_offer_expiry
from devstack.jobrouter.engine.offer_lifecycle import issue_offer
from devstack.jobrouter.matching import order_candidates
from devstack.jobrouter.store import Record

__all__ = ["dispatch", "run_dispatch"]

log = logging.getLogger(__name__)


def run_dispatch(ctx: EngineContext) -> None:
    """Run one pass (a failure is logged, never raised into the loop), then write the changes."""
    try:
        dispatch(ctx)
    except Exception:
        log.exception("matching pass failed")
    ctx.store.flush()


def _jobs_on_channel(ctx: EngineContext, worker: Record, channel_id: object) -> int:
    count = 0
    for item in [*worker.body.get("offers", []), *worker.body.get("assignedJobs", [])]:
        other = ctx.store.get("jobs", str(item.get("jobId")))
        if other is not None and other.body.get("channelId") == channel_id:
            count += 1
    return count


def dispatch(ctx: EngineContext) -> None:
    """One matching pass: queued jobs by priority then age; offers up to each policy's maximum."""
    now = ctx.now()
    jobs = [j for j in ctx.store.all("jobs") if j.body.get("status") == "queued"]
    jobs.sort(key=lambda j: (-int(j.body.get("priority", 1)), str(j.body.get("enqueuedAt", "")), j.seq))
    workers = [w for w in ctx.store.all("workers") if w.body.get("availableForOffers")]
    if not jobs or not workers:
        return
    for job in jobs:
        _offer_job(ctx, job, workers, now)


def _offer_job(ctx: EngineContext, job: Record, workers: list[Record], now: datetime) -> None:
    queue = ctx.store.get("queues", str(job.body.get("queueId")))
    if queue is None:
        return
    policy = ctx.store.get("distributionPolicies", str(queue.body.get("distributionPolicyId")))
    if policy is None or "mode" not in policy.body:
        return
    mode = policy.body["mode"]
    outstanding = len(job.internal.get("offers", {}))
    wanted = int(mode["maxConcurrentOffers"]) - outstanding
    if wanted <= 0:
        return
    channel_id = job.body.get("channelId")
    candidates = [
        c
        for w in workers
        if (c := candidate(job, w, mode, now, functools.partial(_jobs_on_channel, ctx, w, channel_id)))
        is not None
    ]
    if not candidates:
        return
    rr = ctx.store.meta.get("roundRobin", {})
    ordered = order_candidates(
        str(mode["kind"]),
        candidates,
        last_offered=rr.get(str(queue.body["id"])),
        descending=bool(mode.get("scoringRuleOptions", {}).get("descendingOrder", True)),
    )
    for chosen in ordered[:wanted]:
        worker = ctx.store.get("workers", chosen.worker_id)
        assert worker is not None
        offer = issue_offer(ctx, job, worker, policy, now)
        arm_offer_expiry(ctx, worker, offer)
        ctx.store.meta_dict("roundRobin")[str(queue.body["id"])] = chosen.worker_id
