"""The matching pass: offer queued jobs to eligible workers, in the distribution mode's order.

Queued jobs are taken by priority (highest first), then time in queue, then creation; each gets offers
up to its distribution policy's ``maxConcurrentOffers`` (minus the offers it already has), to the eligible
workers (:mod:`devstack.jobrouter.eligibility`) in the mode's order (:mod:`devstack.jobrouter.matching`;
best-worker scores under a scoring rule from :mod:`.worker_scores`).
A pass runs at most once per event loop turn, after whatever changes asked for it.

A pass looks only at what the changes since the last one can affect (:mod:`.matching_index` explains
why that finds every offer a pass over all jobs and workers would issue, in the same order): each
changed job, with every worker that has room in its queue and channel; and for each changed worker,
the queued jobs of its queues and channels in matching order, until no changed worker has room left
there. Changes of a queue or its distribution policy make all of that queue's jobs changed.
"""

from __future__ import annotations

import functools
import heapq
import logging
from collections.abc import Iterator
from datetime import datetime

from devstack.jobrouter.eligibility import candidate
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.matching_index import Changes, Entry, QueueChannel, matching_order
from devstack.jobrouter.engine.offer_expiry import arm_offer_expiry
from devstack.jobrouter.engine.offer_lifecycle import issue_offer
from devstack.jobrouter.engine.worker_scores import scored_candidates
from devstack.jobrouter.matching import order_candidates
from devstack.jobrouter.store import Record

__all__ = ["dispatch", "run_dispatch"]

log = logging.getLogger(__name__)

#: A stream of queued jobs in matching order, and (for a changed worker's stream) the (queue, channel)
#: it serves with the changed workers that made it worth reading; None for changed jobs.
_Stream = tuple[Iterator[Entry], tuple[QueueChannel, list[str]] | None]


def run_dispatch(ctx: EngineContext) -> None:
    """Run one pass (a failure is logged, never raised into the loop), then write the changes."""
    try:
        dispatch(ctx)
    except Exception:
        log.exception("matching pass failed")
    ctx.commit()


def dispatch(ctx: EngineContext) -> int:
    """One matching pass over what changed since the last one; returns how many jobs it looked at."""
    now = ctx.now()
    ctx.index.release_due_retries(now)
    changes = ctx.index.take_changes()
    ctx.scores.prune(lambda job_id: ctx.index.entry_of(job_id) is not None)
    looked_at = 0
    try:
        for job, workers in _matchable(ctx, changes):
            looked_at += 1
            try:
                _offer_job(ctx, job, workers, now)
            except Exception:
                # One job that cannot be matched (a value the engine cannot compute with) must not starve
                # the others: it stays queued and is looked at again when something about it changes.
                log.exception("matching job %s failed; it stays queued", job.body.get("id"))
    except BaseException:
        ctx.index.mark_everything()  # the pass stopped half-way: the next one starts from scratch
        raise
    ctx.index.forget_changes()  # this pass's own offers only took room away
    return looked_at


def _streams(ctx: EngineContext, changes: Changes) -> list[_Stream]:
    index = ctx.index
    if changes.everything:
        return [(index.all_in_order(), None)]
    changed_jobs = sorted(e for job_id in changes.jobs if (e := index.entry_of(job_id)) is not None)
    streams: list[_Stream] = [(iter(changed_jobs), None)]
    for queue_id in sorted(changes.queues):
        streams.extend((iter(entries), None) for entries in index.queue_entries(queue_id))
    watched: dict[QueueChannel, list[str]] = {}
    for worker_id in sorted(changes.workers):
        for key in index.room_keys_of(worker_id):
            if key[0] not in changes.queues:
                watched.setdefault(key, []).append(worker_id)
    streams.extend((iter(index.entries(key)), (key, workers)) for key, workers in watched.items())
    return streams


def _matchable(ctx: EngineContext, changes: Changes) -> Iterator[tuple[Record, list[Record]]]:
    """The queued jobs a pass must look at, in matching order, each with the workers worth checking."""
    index, store = ctx.index, ctx.store
    streams = _streams(ctx, changes)
    heap: list[tuple[Entry, int]] = []
    for number, (entries, _) in enumerate(streams):
        first = next(entries, None)
        if first is not None:
            heap.append((first, number))
    heapq.heapify(heap)
    seen: set[str] = set()
    while heap:
        (_, job_id), number = heapq.heappop(heap)
        entries, watch = streams[number]
        with_room: list[str] = []
        if watch is not None:
            key, watchers = watch
            room = index.room(key)
            with_room = [w for w in watchers if w in room]
            if not with_room:
                continue  # no changed worker has room left here: the rest of this stream cannot match
        following = next(entries, None)
        if following is not None:
            heapq.heappush(heap, (following, number))
        job = store.get("jobs", job_id)
        if job_id in seen or job is None:
            continue
        seen.add(job_id)
        if changes.job_is_changed(job):
            with_room = list(index.room((job.body.get("queueId"), job.body.get("channelId"))))
        workers = [w for w in (store.get("workers", worker_id) for worker_id in with_room) if w is not None]
        yield job, workers


def _jobs_on_channel(ctx: EngineContext, worker: Record, channel_id: object) -> int:
    count = 0
    for item in [*worker.body.get("offers", []), *worker.body.get("assignedJobs", [])]:
        other = ctx.store.get("jobs", str(item.get("jobId")))
        if other is not None and other.body.get("channelId") == channel_id:
            count += 1
    return count


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
    held_back = ctx.scores.held_back(matching_order(job))  # waiting to be scored for a job ranked above
    candidates = [
        c
        for w in workers
        if str(w.body["id"]) not in held_back
        and (c := candidate(job, w, mode, now, functools.partial(_jobs_on_channel, ctx, w, channel_id)))
        is not None
    ]
    if candidates and mode.get("kind") == "bestWorker":
        scored = scored_candidates(ctx, job, mode, candidates)
        if scored is None:
            return  # its scoring rule is being called; the answers make the job changed again
        candidates = scored
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
