"""Pure eligibility rules: may this worker be offered this job now, and as what candidate?

A worker is eligible for a queued job when it is available for offers, serves the job's queue, has the
job's channel with room for one more job (capacity and the channel's ``maxNumberOfJobs``), holds no open
offer for the job, has not declined it since it last registered, is past any ``retryOfferAt``, and meets
the job's active worker selectors (unless the distribution mode bypasses selectors). The orderings of
eligible workers are in :mod:`devstack.jobrouter.matching`. Nothing here reads the store or the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from devstack.jobrouter.matching import Candidate, best_worker_score, capacity_left, selectors_match
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import parse_time

__all__ = ["candidate", "has_room", "may_offer", "worker_channel"]


def worker_channel(worker: Mapping[str, Any], channel_id: Any) -> Mapping[str, Any] | None:
    """The worker's configuration for a channel, or None when it does not take that channel."""
    for channel in worker.get("channels", []):
        if channel.get("channelId") == channel_id:
            return channel  # type: ignore[no-any-return]
    return None


def has_room(worker: Mapping[str, Any], channel_id: Any, jobs_on_channel: Callable[[], int]) -> bool:
    """The worker has the channel and capacity (and a free per-channel slot) for one more job.

    ``jobs_on_channel`` counts the worker's offers and assignments on the channel; it is only called when
    the channel has a ``maxNumberOfJobs``.
    """
    channel = worker_channel(worker, channel_id)
    if channel is None or int(worker.get("capacity", 0)) <= 0:
        return False
    if capacity_left(worker) < int(channel.get("capacityCostPerJob", 0)):
        return False
    limit = channel.get("maxNumberOfJobs")
    return limit is None or jobs_on_channel() < int(limit)


def may_offer(job: Record, worker: Record, now: datetime) -> bool:
    """No open offer for this job, no standing decline, no retryOfferAt still in the future."""
    worker_id = str(worker.body["id"])
    retry_at = job.internal.get("retryAt", {}).get(worker_id)
    return not (
        any(o.get("jobId") == job.body["id"] for o in worker.body.get("offers", []))
        or job.internal.get("declined", {}).get(worker_id) == worker.internal.get("epoch")
        or (retry_at is not None and parse_time(retry_at, field="retryAt") > now)
    )


def candidate(
    job: Record,
    worker: Record,
    mode: Mapping[str, Any],
    now: datetime,
    jobs_on_channel: Callable[[], int],
) -> Candidate | None:
    """The worker as a candidate for the job under a distribution ``mode``, or None when not eligible."""
    w, j = worker.body, job.body
    selectors = [*j.get("requestedWorkerSelectors", []), *j.get("attachedWorkerSelectors", [])]
    eligible = (
        bool(w.get("availableForOffers"))
        and j.get("queueId") in w.get("queues", [])
        and has_room(w, j.get("channelId"), jobs_on_channel)
        and may_offer(job, worker, now)
        and (bool(mode.get("bypassSelectors")) or selectors_match(w.get("labels", {}), selectors))
    )
    if not eligible:
        return None
    score = 0.0
    if mode.get("kind") == "bestWorker" and mode.get("scoringRule") is None:
        score = best_worker_score(
            worker_labels=w.get("labels", {}),
            job_labels=j.get("labels", {}),
            selectors=selectors,
            parameters=mode.get("scoringRuleOptions", {}).get(
                "scoringParameters", ["jobLabels", "workerSelectors"]
            ),
        )
    idle = worker.internal.get("idleSince")
    return Candidate(
        worker_id=str(w["id"]),
        load_ratio=float(w.get("loadRatio", 0)),
        idle_since=parse_time(idle, field="idleSince") if idle else now,
        score=score,
    )
