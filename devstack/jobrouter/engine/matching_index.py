"""The matching index: what a matching pass needs without scanning every job and worker.

It follows the store (the router passes :meth:`MatchingIndex.record_changed` to
:meth:`~devstack.jobrouter.store.Store.listen`) and keeps:

- the queued jobs of each (queue, channel), sorted in matching order (priority, time in queue, creation);
- the workers with room for one more job of each (queue, channel): available for offers, serving the
  queue, with the channel and enough capacity left for its cost (the channel's ``maxNumberOfJobs`` and
  the per-job rules are checked by :mod:`devstack.jobrouter.eligibility` when the pass looks closer);
- what changed since the last pass: jobs, workers, queues (a queue or its distribution policy changed),
  or everything (after a restart or a failed pass); plus the ``retryOfferAt`` times still to come, since
  a job becomes matchable again when one passes even if nothing is written.

After a pass, no queued job that wants offers has an eligible worker (the pass would have offered it),
and only a change makes a new pair eligible. So the next pass needs to look only at changed jobs (with
every worker that has room in their queue and channel) and, for each changed worker, at the queued jobs
of its queues and channels in matching order until it has no room left. :mod:`.dispatch` does that.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devstack.jobrouter.matching import capacity_left
from devstack.jobrouter.store import Record, Store
from devstack.jobrouter.wire import parse_time

__all__ = ["Changes", "MatchingIndex", "QueueChannel", "matching_order", "room_keys"]

#: A (queueId, channelId) pair: the unit jobs wait in and workers have room for.
QueueChannel = tuple[Any, Any]
#: Priority (highest first), enqueuedAt, creation sequence: the order jobs are matched in.
SortKey = tuple[int, str, int]
Entry = tuple[SortKey, str]
_MISSING: Any = object()


def matching_order(job: Record) -> SortKey:
    """The job's place in matching order (smaller first)."""
    return (-int(job.body.get("priority", 1)), str(job.body.get("enqueuedAt", "")), job.seq)


def room_keys(worker: Mapping[str, Any]) -> frozenset[QueueChannel]:
    """The (queue, channel) pairs an available worker has capacity for one more job of."""
    if not worker.get("availableForOffers") or int(worker.get("capacity", 0)) <= 0:
        return frozenset()
    left = capacity_left(worker)
    channels = [
        c.get("channelId") for c in worker.get("channels", []) if left >= int(c.get("capacityCostPerJob", 0))
    ]
    return frozenset((q, c) for q in worker.get("queues", []) for c in channels)


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed since the last matching pass."""

    everything: bool
    jobs: frozenset[str]
    workers: frozenset[str]
    queues: frozenset[str]

    def job_is_changed(self, job: Record) -> bool:
        """The job itself, its queue or everything changed: it is matched against every worker."""
        return self.everything or job.body["id"] in self.jobs or job.body.get("queueId") in self.queues


class MatchingIndex:
    """Queued jobs and workers with room, by (queue, channel), plus the changes since the last pass."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queued: dict[Any, dict[Any, list[Entry]]] = {}
        self._job_entry: dict[str, tuple[QueueChannel, SortKey]] = {}
        self._job_channel: dict[str, Any] = {}
        self._room: dict[QueueChannel, dict[str, None]] = {}
        self._worker_room: dict[str, frozenset[QueueChannel]] = {}
        self._retries: list[tuple[datetime, str, str]] = []
        self._retry_seen: dict[tuple[str, str], str] = {}
        self._everything = True
        self._jobs: set[str] = set()
        self._workers: set[str] = set()
        self._queues: set[str] = set()
        self.rebuild()

    # ------------------------------------------------------------------------------ following

    def rebuild(self) -> None:
        """Index every record of the store afresh; the next pass looks at everything."""
        self._queued.clear()
        self._job_entry.clear()
        self._job_channel.clear()
        self._room.clear()
        self._worker_room.clear()
        self._retries.clear()
        self._retry_seen.clear()
        for worker in self._store.collections["workers"].values():
            self._sync_worker(worker)
        for job in self._store.collections["jobs"].values():
            self._sync_job(job)
        self.mark_everything()

    def record_changed(self, kind: str, resource_id: str) -> None:
        """A record was created, touched or deleted (the store's listener)."""
        if kind == "jobs":
            job = self._store.get(kind, resource_id)
            if job is None:
                self._drop_job(resource_id)
            else:
                self._sync_job(job)
        elif kind == "workers":
            worker = self._store.get(kind, resource_id)
            if worker is None:
                self._set_room(resource_id, frozenset())
            else:
                self._sync_worker(worker)
        elif kind == "queues":
            self._queues.add(resource_id)
        elif kind == "distributionPolicies":
            self._queues.update(
                queue_id
                for queue_id, queue in self._store.collections["queues"].items()
                if queue.body.get("distributionPolicyId") == resource_id
            )

    def _sync_job(self, job: Record) -> None:
        job_id = str(job.body["id"])
        channel = job.body.get("channelId")
        previous_channel = self._job_channel.get(job_id, _MISSING)
        if previous_channel is not _MISSING and previous_channel != channel:
            # the workers holding the job count it on another channel now (maxNumberOfJobs)
            self._workers.update(_holders(job))
        self._job_channel[job_id] = channel
        queued = job.body.get("status") == "queued"
        entry = ((job.body.get("queueId"), channel), matching_order(job)) if queued else None
        previous = self._job_entry.get(job_id)
        if previous != entry:
            if previous is not None:
                self._unlist(job_id, *previous)
            if entry is not None:
                self._list(job_id, *entry)
        for worker_id, at in job.internal.get("retryAt", {}).items():
            if self._retry_seen.get((job_id, worker_id)) != at:
                self._retry_seen[(job_id, worker_id)] = at
                heapq.heappush(self._retries, (parse_time(at, field="retryAt"), job_id, worker_id))
        if queued:
            self._jobs.add(job_id)

    def _drop_job(self, job_id: str) -> None:
        previous = self._job_entry.get(job_id)
        if previous is not None:
            self._unlist(job_id, *previous)
        self._job_channel.pop(job_id, None)

    def _list(self, job_id: str, key: QueueChannel, order: SortKey) -> None:
        queue_id, channel_id = key
        bisect.insort(self._queued.setdefault(queue_id, {}).setdefault(channel_id, []), (order, job_id))
        self._job_entry[job_id] = (key, order)

    def _unlist(self, job_id: str, key: QueueChannel, order: SortKey) -> None:
        queue_id, channel_id = key
        channels = self._queued[queue_id]
        entries = channels[channel_id]
        del entries[bisect.bisect_left(entries, (order, job_id))]
        if not entries:
            del channels[channel_id]
            if not channels:
                del self._queued[queue_id]
        del self._job_entry[job_id]

    def _sync_worker(self, worker: Record) -> None:
        worker_id = str(worker.body["id"])
        self._set_room(worker_id, room_keys(worker.body))
        if worker.body.get("availableForOffers"):
            self._workers.add(worker_id)

    def _set_room(self, worker_id: str, keys: frozenset[QueueChannel]) -> None:
        previous = self._worker_room.get(worker_id, frozenset())
        if keys == previous:
            return
        for key in previous - keys:
            holders = self._room[key]
            del holders[worker_id]
            if not holders:
                del self._room[key]
        for key in keys - previous:
            self._room.setdefault(key, {})[worker_id] = None
        if keys:
            self._worker_room[worker_id] = keys
        else:
            self._worker_room.pop(worker_id, None)

    # ------------------------------------------------------------------------------- changes

    def mark_everything(self) -> None:
        """Make the next pass look at every queued job and every worker."""
        self._everything = True

    def release_due_retries(self, now: datetime) -> None:
        """Jobs whose ``retryOfferAt`` for some worker has come count as changed."""
        while self._retries and self._retries[0][0] <= now:
            _, job_id, worker_id = heapq.heappop(self._retries)
            self._retry_seen.pop((job_id, worker_id), None)
            if job_id in self._job_entry:
                self._jobs.add(job_id)

    def take_changes(self) -> Changes:
        """The changes since the last pass; the index starts collecting afresh."""
        changes = Changes(
            everything=self._everything,
            jobs=frozenset(self._jobs),
            workers=frozenset(self._workers),
            queues=frozenset(self._queues),
        )
        self.forget_changes()
        return changes

    def forget_changes(self) -> None:
        """Drop the changes collected so far (a pass's own offers only ever take room away)."""
        self._everything = False
        self._jobs.clear()
        self._workers.clear()
        self._queues.clear()

    # ------------------------------------------------------------------------------- queries

    def entry_of(self, job_id: str) -> Entry | None:
        """The queued job's (matching order, id), or None when it is not queued."""
        found = self._job_entry.get(job_id)
        return (found[1], job_id) if found is not None else None

    def entries(self, key: QueueChannel) -> list[Entry]:
        """The queued jobs of one (queue, channel) in matching order (do not change the list)."""
        queue_id, channel_id = key
        return self._queued.get(queue_id, {}).get(channel_id, [])

    def queue_entries(self, queue_id: Any) -> list[list[Entry]]:
        """The queue's per-channel lists of queued jobs, each in matching order."""
        return list(self._queued.get(queue_id, {}).values())

    def all_in_order(self) -> Iterator[Entry]:
        """Every queued job, in matching order."""
        return heapq.merge(*(entries for channels in self._queued.values() for entries in channels.values()))

    def queued_job_ids(self, queue_id: Any) -> list[str]:
        """The queue's queued jobs in matching order."""
        return [job_id for _, job_id in heapq.merge(*self.queue_entries(queue_id))]

    def queued_count(self, queue_id: Any) -> int:
        """How many jobs are queued in the queue."""
        return sum(len(entries) for entries in self._queued.get(queue_id, {}).values())

    def position(self, job_id: str) -> int | None:
        """The queued job's 1-based position in its queue, or None when it is not queued."""
        found = self._job_entry.get(job_id)
        if found is None:
            return None
        (queue_id, _), order = found
        return 1 + sum(
            bisect.bisect_left(entries, (order, job_id)) for entries in self.queue_entries(queue_id)
        )

    def room(self, key: QueueChannel) -> Mapping[str, None]:
        """The ids of the workers with room for one more job of (queue, channel)."""
        return self._room.get(key, {})

    def room_keys_of(self, worker_id: str) -> frozenset[QueueChannel]:
        """The (queue, channel) pairs the worker has room for."""
        return self._worker_room.get(worker_id, frozenset())

    def layout(self) -> tuple[dict[Any, dict[Any, list[Entry]]], dict[QueueChannel, set[str]]]:
        """The queued lists and the rooms as plain values (to compare with a fresh index in tests)."""
        queued = {q: {c: list(e) for c, e in channels.items()} for q, channels in self._queued.items()}
        return queued, {key: set(workers) for key, workers in self._room.items()}


def _holders(job: Record) -> set[str]:
    """The workers holding an open offer or an open assignment of the job."""
    holders = {str(w) for w in job.internal.get("offers", {}).values()}
    holders.update(
        str(a["workerId"])
        for a in job.body.get("assignments", {}).values()
        if "closedAt" not in a and a.get("workerId") is not None
    )
    return holders
