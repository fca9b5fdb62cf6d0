"""The routing engine: resources, job lifecycle, matching, offers, exception policies, timers and events.

Every public method runs on the event loop thread and completes without awaiting, so each request (and each
timer callback) is atomic with respect to every other. After a public call the REST layer calls
:meth:`Router.commit`, which writes dirty records to the state file; timer callbacks commit themselves.

Lifecycle (jobrouter-api.md §4): a job is ``created`` (or ``pendingClassification`` with a classification
policy, ``pendingSchedule`` with ``scheduleAndSuspend``); a moment later (``processing_delay``) it is
classified and ``queued``; matching issues offers to eligible workers in the distribution mode's order;
the first accept makes it ``assigned`` and revokes the other offers; ``complete`` then ``close`` release
the worker's capacity. Offers expire after the policy's ``offerExpiresAfterSeconds`` and the worker is then
deregistered. Each state change publishes its ``Microsoft.Communication.Router*`` event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from devstack.jobrouter import events
from devstack.jobrouter.classification import ClassificationFailure, classify
from devstack.jobrouter.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from devstack.jobrouter.events import RouterEvent
from devstack.jobrouter.matching import (
    Candidate,
    best_worker_score,
    capacity_left,
    order_candidates,
    selectors_match,
)
from devstack.jobrouter.resources import (
    READ_ONLY,
    WRITABLE,
    check_patch_fields,
    normalize_classification_policy,
    normalize_distribution_policy,
    normalize_exception_policy,
    normalize_job,
    normalize_labels,
    normalize_queue,
    normalize_worker,
    normalize_worker_selector,
    writable_part,
)
from devstack.jobrouter.store import Record, Store
from devstack.jobrouter.timers import Clock, Timers
from devstack.jobrouter.wire import JsonObject, format_time, merge_patch, normalize_numbers, parse_time

__all__ = ["ACTIVE_JOB_STATUSES", "Conditions", "Router"]

log = logging.getLogger(__name__)

#: Statuses the ``active`` list filter selects (RouterJobStatusSelector.ACTIVE).
ACTIVE_JOB_STATUSES: Final = frozenset(
    {
        "pendingClassification",
        "queued",
        "assigned",
        "classificationFailed",
        "completed",
        "pendingSchedule",
        "scheduled",
        "scheduleFailed",
        "waitingForActivation",
    }
)
TERMINAL_JOB_STATUSES: Final = frozenset({"closed", "cancelled"})
#: Statuses from which an upsert or a reclassify can move a job forward again.
_UNSETTLED: Final = frozenset(
    {
        "created",
        "pendingClassification",
        "queued",
        "classificationFailed",
        "pendingSchedule",
        "scheduled",
        "scheduleFailed",
        "waitingForActivation",
    }
)
MAX_UNASSIGNMENTS: Final = 3
_REVOKED_MEMORY: Final = 10_000


@dataclass(frozen=True, slots=True)
class Conditions:
    """Conditional request headers of an upsert."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_unmodified_since: datetime | None = None


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}


def _check_conditions(existing: Record | None, cond: Conditions) -> None:
    if cond.if_match is not None:
        if existing is None:
            raise PreconditionFailed("If-Match was given but the resource does not exist.")
        if cond.if_match.strip() != "*" and existing.etag not in _etags(cond.if_match):
            raise PreconditionFailed("The resource's ETag does not match If-Match.")
    if (
        cond.if_none_match is not None
        and existing is not None
        and (cond.if_none_match.strip() == "*" or existing.etag in _etags(cond.if_none_match))
    ):
        raise PreconditionFailed("If-None-Match did not hold: the resource exists with that ETag.")
    if (
        cond.if_unmodified_since is not None
        and existing is not None
        and existing.last_modified.replace(microsecond=0) > cond.if_unmodified_since
    ):
        raise PreconditionFailed("The resource was modified after If-Unmodified-Since.")


class Router:
    """All Job Router behaviour; the REST layer only parses requests and renders results."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        publish: Callable[[RouterEvent], None],
        rng: random.Random | None = None,
        processing_delay: float = 0.0,
        default_offer_expiry_seconds: float = 31_536_000.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self._publish = publish
        self.rng = rng or random.Random()
        self.processing_delay = processing_delay
        self.default_offer_expiry_seconds = default_offer_expiry_seconds
        self._timers: Timers | None = None
        self._dispatch_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # ================================================================================ plumbing

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start timers on ``loop`` and resume what a restored state needs (expired offers expire now)."""
        self._loop = loop
        self._timers = Timers(loop, self.clock, on_fire=self.commit)
        self._resume()
        self.commit()

    def close(self) -> None:
        """Cancel all timers and close the store."""
        if self._timers is not None:
            self._timers.close()
        self.store.close()

    def commit(self) -> None:
        """Write the changes of the last operation to the state file (if any)."""
        self.store.flush()

    def now(self) -> datetime:
        """The engine's clock."""
        return self.clock.now()

    @property
    def timers(self) -> Timers:
        """The timer set (only after :meth:`attach`)."""
        assert self._timers is not None, "Router.attach() must be called first"
        return self._timers

    def _emit(self, event: RouterEvent) -> None:
        try:
            self._publish(event)
        except Exception:
            log.exception("publishing %s failed", event.event_type)

    def _touch(self, kind: str, record: Record) -> None:
        self.store.touch(kind, str(record.body["id"]), self.now())

    def _request_dispatch(self) -> None:
        if self._dispatch_pending or self._loop is None:
            return
        self._dispatch_pending = True
        self._loop.call_soon(self._run_dispatch)

    def _run_dispatch(self) -> None:
        self._dispatch_pending = False
        try:
            self._dispatch()
        except Exception:
            log.exception("matching pass failed")
        self.commit()

    def _later(self, key: tuple[str, ...], fn: Callable[[], None], delay: float | None = None) -> None:
        when = self.now() + timedelta(seconds=self.processing_delay if delay is None else delay)
        self.timers.at(key, when, fn)

    # ====================================================================== generic resources

    def get(self, kind: str, resource_id: str) -> Record:
        """The record or :class:`NotFound`."""
        record = self.store.get(kind, resource_id)
        if record is None:
            raise NotFound()
        return record

    def list_records(self, kind: str, predicate: Callable[[Record], bool] | None = None) -> list[Record]:
        """Records newest first, optionally filtered."""
        records = [r for r in self.store.all(kind) if predicate is None or predicate(r)]
        return sorted(records, key=lambda r: r.seq, reverse=True)

    def upsert(self, kind: str, resource_id: str, patch: JsonObject, cond: Conditions) -> tuple[bool, Record]:
        """Create or merge-patch a resource; returns (created, record)."""
        if not resource_id:
            raise BadRequest("The resource id must not be empty.")
        check_patch_fields(kind, patch)
        existing = self.store.get(kind, resource_id)
        _check_conditions(existing, cond)
        writable_patch = normalize_numbers({k: v for k, v in patch.items() if k in WRITABLE[kind]})
        previous = existing.body if existing is not None else None
        merged = merge_patch(writable_part(kind, previous) if previous else {}, writable_patch)
        handler = {
            "distributionPolicies": self._upsert_distribution_policy,
            "queues": self._upsert_queue,
            "classificationPolicies": self._upsert_classification_policy,
            "exceptionPolicies": self._upsert_exception_policy,
            "workers": self._upsert_worker,
            "jobs": self._upsert_job,
        }[kind]
        record = handler(resource_id, merged, writable_patch, existing)
        return existing is None, record

    def _store_simple(self, kind: str, resource_id: str, body: JsonObject, existing: Record | None) -> Record:
        full = {"id": resource_id, **body}
        if existing is None:
            return self.store.create(kind, resource_id, full, self.now())
        existing.body = full
        self._touch(kind, existing)
        return existing

    def _require(self, kind: str, resource_id: Any, field: str) -> None:
        if resource_id is not None and self.store.get(kind, str(resource_id)) is None:
            raise BadRequest(
                f"'{field}' refers to {kind[:-1] if not kind.endswith('ies') else kind[:-3] + 'y'} "
                f"{resource_id!r}, which does not exist."
            )

    def _upsert_distribution_policy(
        self, resource_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
    ) -> Record:
        record = self._store_simple(
            "distributionPolicies", resource_id, normalize_distribution_policy(merged), existing
        )
        self._request_dispatch()
        return record

    def _upsert_queue(
        self, resource_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
    ) -> Record:
        body = normalize_queue(
            resource_id,
            merged,
            patch=patch,
            created=existing is None,
            previous=existing.body if existing else None,
        )
        self._require("distributionPolicies", body.get("distributionPolicyId"), "distributionPolicyId")
        self._require("exceptionPolicies", body.get("exceptionPolicyId"), "exceptionPolicyId")
        record = self._store_simple("queues", resource_id, body, existing)
        for job in self._queued_jobs(resource_id):
            self._arm_wait_time_triggers(job)
        self._request_dispatch()
        return record

    def _upsert_classification_policy(
        self, resource_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
    ) -> Record:
        body = normalize_classification_policy(merged)
        self._require("queues", body.get("fallbackQueueId"), "fallbackQueueId")
        return self._store_simple("classificationPolicies", resource_id, body, existing)

    def _upsert_exception_policy(
        self, resource_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
    ) -> Record:
        body = normalize_exception_policy(merged)
        for i, rule in enumerate(body["exceptionRules"]):
            for j, action in enumerate(rule["actions"]):
                field = f"exceptionRules[{i}].actions[{j}]"
                self._require("queues", action.get("queueId"), f"{field}.queueId")
                self._require(
                    "classificationPolicies",
                    action.get("classificationPolicyId"),
                    f"{field}.classificationPolicyId",
                )
        record = self._store_simple("exceptionPolicies", resource_id, body, existing)
        for queue in self.store.all("queues"):
            if queue.body.get("exceptionPolicyId") == resource_id:
                for job in self._queued_jobs(str(queue.body["id"])):
                    self._arm_wait_time_triggers(job)
        return record

    def delete(self, kind: str, resource_id: str) -> None:
        """Delete (idempotent: deleting something already gone succeeds, as the service's 204 shows)."""
        record = self.store.get(kind, resource_id)
        if record is None:
            return
        if kind == "jobs":
            self._delete_job(record)
        elif kind == "workers":
            self._delete_worker(record)
        elif kind == "queues":
            if any(
                j.body.get("queueId") == resource_id and j.body.get("status") not in TERMINAL_JOB_STATUSES
                for j in self.store.all("jobs")
            ):
                raise Conflict("Validation failed: \r\n -- : There is active job with this queue")
            self.store.delete(kind, resource_id)
        else:
            self.store.delete(kind, resource_id)

    # ================================================================================ workers

    def _upsert_worker(
        self, worker_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
    ) -> Record:
        now = self.now()
        body = normalize_worker(
            worker_id,
            merged,
            patch=patch,
            created=existing is None,
            previous=existing.body if existing else None,
        )
        if existing is None:
            record = self.store.create(
                "workers",
                worker_id,
                {
                    "id": worker_id,
                    "state": "inactive",
                    **body,
                    "offers": [],
                    "assignedJobs": [],
                    "loadRatio": 0,
                },
                now,
            )
            record.internal = {"epoch": 0, "idleSince": format_time(now)}
            record.body["availableForOffers"] = False
            if body["availableForOffers"]:
                self._register(record)
            self._refresh_worker(record)
            return record

        old = existing.body
        was_available = bool(old.get("availableForOffers"))
        changed = [
            name
            for key, name in (
                ("capacity", "TotalCapacity"),
                ("queues", "QueueAssignments"),
                ("labels", "Labels"),
                ("tags", "Tags"),
                ("channels", "ChannelConfigurations"),
            )
            if old.get(key) != body.get(key)
        ]
        new_body = {k: v for k, v in old.items() if k in READ_ONLY["workers"] or k not in WRITABLE["workers"]}
        new_body.update(body)
        new_body["availableForOffers"] = was_available
        if "capacity" not in body:
            new_body.pop("capacity", None)
        existing.body = new_body
        if body["availableForOffers"] and not was_available:
            self._register(existing)
        elif was_available and not body["availableForOffers"]:
            self._deregister(existing)
        elif changed:
            self._emit(
                events.worker_updated(
                    worker_id=worker_id,
                    queue_assignments=self._queue_details(existing.body["queues"]),
                    channel_configurations=existing.body["channels"],
                    total_capacity=existing.body.get("capacity"),
                    updated_worker_properties=changed,
                    labels=existing.body["labels"],
                    tags=existing.body["tags"],
                )
            )
        self._refresh_worker(existing)
        self._request_dispatch()
        return existing

    def _queue_details(self, queue_ids: Iterable[str]) -> list[JsonObject]:
        details = []
        for qid in queue_ids:
            queue = self.store.get("queues", qid)
            details.append(queue.body if queue is not None else {"id": qid, "labels": {}})
        return details

    def _refresh_worker(self, record: Record) -> None:
        """Recompute state and loadRatio, then mark the worker modified."""
        body = record.body
        capacity = int(body.get("capacity", 0))
        used = capacity - capacity_left(body)
        body["loadRatio"] = normalize_numbers(round(used / capacity, 6)) if capacity > 0 else 0
        if body.get("availableForOffers"):
            body["state"] = "active"
        else:
            body["state"] = "draining" if body.get("assignedJobs") else "inactive"
        self._touch("workers", record)

    def _register(self, record: Record) -> None:
        body = record.body
        body["availableForOffers"] = True
        record.internal["epoch"] = int(record.internal.get("epoch", 0)) + 1
        if not body.get("assignedJobs") and not body.get("offers"):
            record.internal["idleSince"] = format_time(self.now())
        self._refresh_worker(record)
        self._emit(
            events.worker_registered(
                worker_id=str(body["id"]),
                queue_assignments=self._queue_details(body["queues"]),
                channel_configurations=body["channels"],
                total_capacity=body.get("capacity"),
                labels=body["labels"],
                tags=body["tags"],
            )
        )
        self._request_dispatch()

    def _deregister(self, record: Record) -> None:
        record.body["availableForOffers"] = False
        for offer in list(record.body.get("offers", [])):
            self._revoke(record, offer, reason="workerDeregistered")
        self._refresh_worker(record)
        self._emit(events.worker_deregistered(worker_id=str(record.body["id"])))
        self._request_dispatch()

    def _delete_worker(self, record: Record) -> None:
        worker_id = str(record.body["id"])
        if record.body.get("assignedJobs"):
            raise Conflict(
                f"Worker {worker_id!r} has assigned jobs; close, cancel or unassign them before deleting it."
            )
        for offer in list(record.body.get("offers", [])):
            self._revoke(record, offer, reason="workerDeleted")
        self.store.delete("workers", worker_id)
        self._emit(events.worker_deleted(worker_id=worker_id))
        self._request_dispatch()

    # =================================================================================== jobs

    def _job_base(self, job: Record) -> dict[str, Any]:
        b = job.body
        return {
            "job_id": str(b["id"]),
            "channel_reference": b.get("channelReference"),
            "channel_id": b.get("channelId"),
            "queue_id": b.get("queueId"),
            "labels": b.get("labels", {}),
            "tags": b.get("tags", {}),
        }

    def _upsert_job(
        self, job_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
    ) -> Record:
        created = existing is None
        body = normalize_job(merged, created=created, now=self.now())
        self._require("queues", body.get("queueId") if "queueId" in patch or created else None, "queueId")
        self._require(
            "classificationPolicies",
            body.get("classificationPolicyId") if "classificationPolicyId" in patch or created else None,
            "classificationPolicyId",
        )
        if existing is None:
            return self._create_job(job_id, body)
        self._update_job(existing, body, patch)
        return existing

    def _create_job(self, job_id: str, body: JsonObject) -> Record:
        mode = body["matchingMode"]
        if mode["kind"] == "scheduleAndSuspend":
            status = "pendingSchedule"
        elif body.get("classificationPolicyId"):
            status = "pendingClassification"
        else:
            status = "created"
        full: JsonObject = {
            "id": job_id,
            **body,
            "status": status,
            "attachedWorkerSelectors": [],
            "assignments": {},
        }
        record = self.store.create("jobs", job_id, full, self.now())
        record.internal = {"offers": {}, "declined": {}, "retryAt": {}, "triggered": [], "unassignments": 0}
        if body.get("queueId"):
            record.internal["requestedQueueId"] = body["queueId"]
        self._emit(
            events.job_received(
                **self._job_base(record),
                job_status=status,
                unavailable_for_matching=mode["kind"] != "queueAndMatch",
                classification_policy_id=body.get("classificationPolicyId"),
                priority=body.get("priority"),
                requested_worker_selectors=body["requestedWorkerSelectors"],
                scheduled_on=parse_time(mode["scheduleAt"], field="scheduleAt")
                if "scheduleAt" in mode
                else None,
            )
        )
        self._later(("process", job_id), functools.partial(self._process, job_id))
        return record

    def _update_job(self, job: Record, body: JsonObject, patch: JsonObject) -> None:
        """Apply a PATCH; a job not yet with a worker moves forward again (reclassified, re-queued...)."""
        job_id = str(job.body["id"])
        old = job.body
        if "queueId" in patch:
            job.internal["requestedQueueId"] = body.get("queueId")
        if "requestedWorkerSelectors" not in patch:
            body["requestedWorkerSelectors"] = old.get("requestedWorkerSelectors", [])
        old_queue = old.get("queueId")
        old_mode = old.get("matchingMode", {"kind": "queueAndMatch"})
        job.body = {k: v for k, v in old.items() if k not in WRITABLE["jobs"]} | body
        self._touch("jobs", job)
        status, mode = str(job.body["status"]), body["matchingMode"]
        process = functools.partial(
            self._later, ("process", job_id), functools.partial(self._process, job_id)
        )
        if status not in _UNSETTLED:
            return
        if mode["kind"] == "scheduleAndSuspend":
            if mode != old_mode or status not in ("pendingSchedule", "scheduled", "waitingForActivation"):
                self._leave_matching(job)
                job.body["status"] = "pendingSchedule"
                process()
        elif mode["kind"] == "suspend":
            if status != "waitingForActivation":
                process()
        elif job.body.get("classificationPolicyId"):
            self._leave_matching(job)
            job.body["status"] = "pendingClassification"
            process()
        elif status != "queued":
            process()
        elif job.body.get("queueId") != old_queue:
            self._leave_matching(job)
            self._enqueue(job, queue_changed=True)
        else:
            self._arm_selector_expiry(job)
            self._request_dispatch()

    def _process(self, job_id: str) -> None:
        """Move a job forward after an upsert: schedule, suspend, classify or queue it."""
        job = self.store.get("jobs", job_id)
        if job is None:
            return
        body = job.body
        status = str(body["status"])
        mode = body.get("matchingMode", {"kind": "queueAndMatch"})
        if status not in _UNSETTLED:
            return
        if mode["kind"] == "scheduleAndSuspend":
            if status == "pendingSchedule":
                body["status"] = "scheduled"
                body["scheduledAt"] = format_time(self.now())
                self._touch("jobs", job)
                self._arm_schedule(job)
            return
        if mode["kind"] == "suspend":
            self._leave_matching(job)
            self._wait_for_activation(job)
            return
        if (body.get("classificationPolicyId") and status != "queued") or status == "pendingClassification":
            self._classify(job)
        elif status != "queued":
            self._enqueue(job, queue_changed=False)

    def _wait_for_activation(self, job: Record) -> None:
        body = job.body
        body["status"] = "waitingForActivation"
        self._touch("jobs", job)
        mode = body.get("matchingMode", {})
        self._emit(
            events.job_waiting_for_activation(
                **self._job_base(job),
                scheduled_on=parse_time(mode["scheduleAt"], field="scheduleAt")
                if "scheduleAt" in mode
                else None,
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

    def _arm_schedule(self, job: Record) -> None:
        job_id = str(job.body["id"])
        at = parse_time(job.body["matchingMode"]["scheduleAt"], field="scheduleAt")
        self.timers.at(("schedule", job_id), at, lambda: self._activate_scheduled(job_id))

    def _activate_scheduled(self, job_id: str) -> None:
        job = self.store.get("jobs", job_id)
        if job is None or job.body.get("status") != "scheduled":
            return
        if job.body.get("matchingMode", {}).get("kind") != "scheduleAndSuspend":
            return
        self._wait_for_activation(job)

    def _classify(self, job: Record) -> None:
        body = job.body
        policy_id = str(body.get("classificationPolicyId"))
        policy = self.store.get("classificationPolicies", policy_id)
        queues = {qid: r.body for qid, r in self.store.collections["queues"].items()}
        try:
            if policy is None:
                raise ClassificationFailure(
                    "ClassificationPolicyNotFound", f"Classification policy {policy_id!r} does not exist."
                )
            result = classify(
                body, policy.body, queues, self.rng, requested_queue_id=job.internal.get("requestedQueueId")
            )
        except ClassificationFailure as failure:
            body["status"] = "classificationFailed"
            self._touch("jobs", job)
            self._emit(
                events.job_classification_failed(
                    **self._job_base(job),
                    classification_policy_id=policy_id,
                    errors=[{"code": failure.code, "message": failure.message}],
                )
            )
            return
        queue_changed = body.get("queueId") != result.queue_id
        body["queueId"] = result.queue_id
        body["priority"] = result.priority
        body["attachedWorkerSelectors"] = result.attached_worker_selectors
        self._touch("jobs", job)
        self._emit(
            events.job_classified(
                **(self._job_base(job) | {"queue_id": result.queue_id}),
                queue_details=queues[result.queue_id],
                classification_policy_id=policy_id,
                priority=result.priority,
                attached_worker_selectors=result.attached_worker_selectors,
            )
        )
        self._enqueue(job, queue_changed=queue_changed)

    def _enqueue(self, job: Record, *, queue_changed: bool) -> None:
        """Put the job (back) in its queue for matching and publish RouterJobQueued."""
        body = job.body
        now = self.now()
        body["status"] = "queued"
        if queue_changed or "enqueuedAt" not in body:
            body["enqueuedAt"] = format_time(now)
            job.internal["triggered"] = []
        for key in ("requestedWorkerSelectors", "attachedWorkerSelectors"):
            for sel in body.get(key, []):
                if (
                    sel.get("expiresAfterSeconds") is not None
                    and "expiresAt" not in sel
                    and sel.get("status") == "active"
                ):
                    sel["expiresAt"] = format_time(now + timedelta(seconds=float(sel["expiresAfterSeconds"])))
        self._touch("jobs", job)
        self._emit(
            events.job_queued(
                **self._job_base(job),
                priority=body.get("priority"),
                attached_worker_selectors=body.get("attachedWorkerSelectors", []),
                requested_worker_selectors=body.get("requestedWorkerSelectors", []),
            )
        )
        self._arm_selector_expiry(job)
        self._check_queue_length_triggers(job)
        if job.body.get("status") == "queued":
            self._arm_wait_time_triggers(job)
            self._request_dispatch()

    def _leave_matching(self, job: Record) -> None:
        """Revoke the job's offers and stop its queue timers (it is leaving the queue)."""
        job_id = str(job.body["id"])
        for offer_id, worker_id in list(job.internal.get("offers", {}).items()):
            worker = self.store.get("workers", worker_id)
            offer = self._find_offer(worker, offer_id) if worker is not None else None
            if worker is not None and offer is not None:
                self._revoke(worker, offer, reason="jobLeftQueue")
            else:
                job.internal["offers"].pop(offer_id, None)
        for key in list(self.timers.pending()):
            if (
                isinstance(key, tuple)
                and len(key) >= 2
                and key[1] == job_id
                and key[0] in ("waitTime", "selectors")
            ):
                self.timers.cancel(key)

    def _queued_jobs(self, queue_id: str) -> list[Record]:
        jobs = [
            j
            for j in self.store.all("jobs")
            if j.body.get("status") == "queued" and j.body.get("queueId") == queue_id
        ]
        return sorted(
            jobs, key=lambda j: (-int(j.body.get("priority", 1)), str(j.body.get("enqueuedAt", "")), j.seq)
        )

    # ------------------------------------------------------------------------ selector expiry

    def _arm_selector_expiry(self, job: Record) -> None:
        job_id = str(job.body["id"])
        pending = [
            parse_time(s["expiresAt"], field="expiresAt")
            for key in ("requestedWorkerSelectors", "attachedWorkerSelectors")
            for s in job.body.get(key, [])
            if s.get("status") == "active" and "expiresAt" in s
        ]
        if pending and job.body.get("status") == "queued":
            self.timers.at(("selectors", job_id), min(pending), lambda: self._expire_selectors(job_id))
        else:
            self.timers.cancel(("selectors", job_id))

    def _expire_selectors(self, job_id: str) -> None:
        job = self.store.get("jobs", job_id)
        if job is None or job.body.get("status") != "queued":
            return
        now = self.now()
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
            self._touch("jobs", job)
            self._emit(
                events.job_worker_selectors_expired(
                    **(self._job_base(job) | {"queue_id": str(job.body["queueId"])}),
                    expired_requested_worker_selectors=expired["requestedWorkerSelectors"],
                    expired_attached_worker_selectors=expired["attachedWorkerSelectors"],
                )
            )
            self._request_dispatch()
        self._arm_selector_expiry(job)

    # ============================================================================== matching

    def _dispatch(self) -> None:
        """One matching pass: queued jobs by priority then age; offers up to each policy's maximum."""
        now = self.now()
        jobs = [j for j in self.store.all("jobs") if j.body.get("status") == "queued"]
        jobs.sort(key=lambda j: (-int(j.body.get("priority", 1)), str(j.body.get("enqueuedAt", "")), j.seq))
        workers = [w for w in self.store.all("workers") if w.body.get("availableForOffers")]
        if not jobs or not workers:
            return
        for job in jobs:
            queue = self.store.get("queues", str(job.body.get("queueId")))
            if queue is None:
                continue
            policy = self.store.get("distributionPolicies", str(queue.body.get("distributionPolicyId")))
            if policy is None or "mode" not in policy.body:
                continue
            mode = policy.body["mode"]
            outstanding = len(job.internal.get("offers", {}))
            wanted = int(mode["maxConcurrentOffers"]) - outstanding
            if wanted <= 0:
                continue
            candidates = [c for w in workers if (c := self._candidate(job, w, mode, now)) is not None]
            if not candidates:
                continue
            rr = self.store.meta.get("roundRobin", {})
            ordered = order_candidates(
                str(mode["kind"]),
                candidates,
                last_offered=rr.get(str(queue.body["id"])),
                descending=bool(mode.get("scoringRuleOptions", {}).get("descendingOrder", True)),
            )
            for candidate in ordered[:wanted]:
                worker = self.store.get("workers", candidate.worker_id)
                assert worker is not None
                self._issue_offer(job, worker, policy, now)
                self.store.meta_dict("roundRobin")[str(queue.body["id"])] = candidate.worker_id

    def _channel(self, worker: Mapping[str, Any], channel_id: Any) -> Mapping[str, Any] | None:
        for channel in worker.get("channels", []):
            if channel.get("channelId") == channel_id:
                return channel  # type: ignore[no-any-return]
        return None

    def _jobs_on_channel(self, worker: Mapping[str, Any], channel_id: Any) -> int:
        count = 0
        for item in [*worker.get("offers", []), *worker.get("assignedJobs", [])]:
            other = self.store.get("jobs", str(item.get("jobId")))
            if other is not None and other.body.get("channelId") == channel_id:
                count += 1
        return count

    def _has_room(self, w: Mapping[str, Any], channel_id: Any) -> bool:
        """The worker has the channel and capacity (and a free per-channel slot) for one more job."""
        channel = self._channel(w, channel_id)
        if channel is None or int(w.get("capacity", 0)) <= 0:
            return False
        if capacity_left(w) < int(channel.get("capacityCostPerJob", 0)):
            return False
        limit = channel.get("maxNumberOfJobs")
        return limit is None or self._jobs_on_channel(w, channel_id) < int(limit)

    def _may_offer(self, job: Record, worker: Record, now: datetime) -> bool:
        """No open offer for this job, no standing decline, no retryOfferAt still in the future."""
        worker_id = str(worker.body["id"])
        retry_at = job.internal.get("retryAt", {}).get(worker_id)
        return not (
            any(o.get("jobId") == job.body["id"] for o in worker.body.get("offers", []))
            or job.internal.get("declined", {}).get(worker_id) == worker.internal.get("epoch")
            or (retry_at is not None and parse_time(retry_at, field="retryAt") > now)
        )

    def _candidate(
        self, job: Record, worker: Record, mode: Mapping[str, Any], now: datetime
    ) -> Candidate | None:
        """The worker as a candidate for the job, or None when it is not eligible."""
        w, j = worker.body, job.body
        worker_id = str(w["id"])
        selectors = [*j.get("requestedWorkerSelectors", []), *j.get("attachedWorkerSelectors", [])]
        eligible = (
            bool(w.get("availableForOffers"))
            and j.get("queueId") in w.get("queues", [])
            and self._has_room(w, j.get("channelId"))
            and self._may_offer(job, worker, now)
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
            worker_id=worker_id,
            load_ratio=float(w.get("loadRatio", 0)),
            idle_since=parse_time(idle, field="idleSince") if idle else now,
            score=score,
        )

    def _issue_offer(self, job: Record, worker: Record, policy: Record, now: datetime) -> None:
        channel = self._channel(worker.body, job.body.get("channelId"))
        assert channel is not None
        seconds = float(policy.body.get("offerExpiresAfterSeconds", self.default_offer_expiry_seconds))
        expires = now + timedelta(seconds=seconds)
        offer: JsonObject = {
            "offerId": str(uuid.uuid4()),
            "jobId": str(job.body["id"]),
            "capacityCost": int(channel.get("capacityCostPerJob", 0)),
            "offeredAt": format_time(now),
            "expiresAt": format_time(expires),
        }
        worker.body.setdefault("offers", []).append(offer)
        job.internal.setdefault("offers", {})[offer["offerId"]] = str(worker.body["id"])
        self._refresh_worker(worker)
        self.store.touch("jobs", str(job.body["id"]), now, changed=False)
        self._emit(
            events.offer_issued(
                worker_id=str(worker.body["id"]),
                job_id=str(job.body["id"]),
                channel_reference=job.body.get("channelReference"),
                channel_id=job.body.get("channelId"),
                queue_id=job.body.get("queueId"),
                offer_id=offer["offerId"],
                job_priority=job.body.get("priority"),
                offered_on=now,
                expires_on=expires,
                job_labels=job.body.get("labels", {}),
                job_tags=job.body.get("tags", {}),
                worker_labels=worker.body.get("labels", {}),
                worker_tags=worker.body.get("tags", {}),
            )
        )
        self._arm_offer_expiry(worker, offer)

    def _arm_offer_expiry(self, worker: Record, offer: Mapping[str, Any]) -> None:
        worker_id, offer_id = str(worker.body["id"]), str(offer["offerId"])
        self.timers.at(
            ("offer", offer_id),
            parse_time(offer["expiresAt"], field="expiresAt"),
            lambda: self._expire_offer(worker_id, offer_id),
        )

    @staticmethod
    def _find_offer(worker: Record, offer_id: str) -> JsonObject | None:
        for offer in worker.body.get("offers", []):
            if offer.get("offerId") == offer_id:
                return offer  # type: ignore[no-any-return]
        return None

    def _take_offer(self, worker: Record, offer: Mapping[str, Any]) -> Record | None:
        """Remove an offer from the worker and its job; returns the job (if it still exists)."""
        offer_id = str(offer["offerId"])
        worker.body["offers"] = [o for o in worker.body.get("offers", []) if o.get("offerId") != offer_id]
        self.timers.cancel(("offer", offer_id))
        job = self.store.get("jobs", str(offer["jobId"]))
        if job is not None:
            job.internal.setdefault("offers", {}).pop(offer_id, None)
            self.store.touch("jobs", str(job.body["id"]), self.now(), changed=False)
        self._refresh_worker(worker)
        return job

    def _offer_event_args(
        self, worker: Record, offer: Mapping[str, Any], job: Record | None
    ) -> dict[str, Any]:
        jb = job.body if job is not None else {}
        return {
            "worker_id": str(worker.body["id"]),
            "job_id": str(offer["jobId"]),
            "channel_reference": jb.get("channelReference"),
            "channel_id": jb.get("channelId"),
            "queue_id": jb.get("queueId"),
            "offer_id": str(offer["offerId"]),
        }

    def _revoke(self, worker: Record, offer: Mapping[str, Any], *, reason: str) -> None:
        job = self._take_offer(worker, offer)
        revoked = self.store.meta_dict("revokedOffers")
        revoked[str(offer["offerId"])] = {
            "workerId": str(worker.body["id"]),
            "jobId": str(offer["jobId"]),
            "reason": reason,
        }
        while len(revoked) > _REVOKED_MEMORY:
            revoked.pop(next(iter(revoked)))
        self._emit(events.offer_revoked(**self._offer_event_args(worker, offer, job)))

    def _expire_offer(self, worker_id: str, offer_id: str) -> None:
        worker = self.store.get("workers", worker_id)
        if worker is None:
            return
        offer = self._find_offer(worker, offer_id)
        if offer is None:
            return
        job = self._take_offer(worker, offer)
        self._emit(events.offer_expired(**self._offer_event_args(worker, offer, job)))
        if worker.body.get("availableForOffers"):
            self._deregister(worker)
        self._request_dispatch()

    # ================================================================================ offers

    def _offer_or_error(self, worker_id: str, offer_id: str, handler: str) -> tuple[Record, JsonObject]:
        worker = self.store.get("workers", worker_id)
        offer = self._find_offer(worker, offer_id) if worker is not None else None
        if worker is None or offer is None:
            revoked = self.store.meta.get("revokedOffers", {}).get(offer_id)
            if (
                handler == "AcceptOfferCommandHandler"
                and revoked is not None
                and revoked.get("workerId") == worker_id
                and revoked.get("reason") == "acceptedByAnotherWorker"
            ):
                raise Conflict(
                    f"{handler}: Job already assigned to another worker. "
                    f"OfferId: {offer_id}, WorkerId: {worker_id}, "
                    f"JobId: {revoked.get('jobId')}"
                )
            raise NotFound(f"{handler}: Offer not found. OfferId: {offer_id}, WorkerId: {worker_id}")
        return worker, offer

    def accept_offer(self, worker_id: str, offer_id: str) -> JsonObject:
        """Accept: the job becomes assigned to the worker; every other offer for it is revoked."""
        worker, offer = self._offer_or_error(worker_id, offer_id, "AcceptOfferCommandHandler")
        job = self._take_offer(worker, offer)
        if job is None:
            raise NotFound(
                f"AcceptOfferCommandHandler: Offer not found. OfferId: {offer_id}, WorkerId: {worker_id}"
            )
        now = self.now()
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
        self._refresh_worker(worker)
        self._record_wait(job, now)
        self._emit(
            events.offer_accepted(
                **self._offer_event_args(worker, offer, job),
                assignment_id=assignment_id,
                job_priority=job.body.get("priority"),
                job_labels=job.body.get("labels", {}),
                job_tags=job.body.get("tags", {}),
                worker_labels=worker.body.get("labels", {}),
                worker_tags=worker.body.get("tags", {}),
            )
        )
        for other_offer_id, other_worker_id in list(job.internal.get("offers", {}).items()):
            other = self.store.get("workers", other_worker_id)
            other_offer = self._find_offer(other, other_offer_id) if other is not None else None
            if other is not None and other_offer is not None:
                self._revoke(other, other_offer, reason="acceptedByAnotherWorker")
        self._leave_matching(job)
        self._touch("jobs", job)
        self._request_dispatch()
        return {"assignmentId": assignment_id, "jobId": str(job.body["id"]), "workerId": worker_id}

    def decline_offer(self, worker_id: str, offer_id: str, retry_offer_at: datetime | None) -> None:
        """Decline: with ``retryOfferAt`` the worker may get the job again from then; without, never (until
        it re-registers)."""
        worker, offer = self._offer_or_error(worker_id, offer_id, "DeclineOfferCommandHandler")
        job = self._take_offer(worker, offer)
        self._emit(events.offer_declined(**self._offer_event_args(worker, offer, job)))
        if job is not None:
            job_id = str(job.body["id"])
            if retry_offer_at is not None:
                job.internal.setdefault("retryAt", {})[worker_id] = format_time(retry_offer_at)
                self.timers.at(
                    ("retry", job_id, worker_id), retry_offer_at, lambda: self._retry_due(job_id, worker_id)
                )
            else:
                job.internal.setdefault("declined", {})[worker_id] = worker.internal.get("epoch")
            self.store.touch("jobs", job_id, self.now(), changed=False)
        self._request_dispatch()

    def _retry_due(self, job_id: str, worker_id: str) -> None:
        job = self.store.get("jobs", job_id)
        if job is not None:
            job.internal.get("retryAt", {}).pop(worker_id, None)
            self.store.touch("jobs", job_id, self.now(), changed=False)
        self._request_dispatch()

    def _record_wait(self, job: Record, now: datetime) -> None:
        """Remember time-in-queue per queue and priority, for queue statistics."""
        enqueued = job.body.get("enqueuedAt")
        if not enqueued:
            return
        minutes = (now - parse_time(enqueued, field="enqueuedAt")).total_seconds() / 60.0
        waits = self.store.meta_dict("waits")
        key = f"{job.body.get('queueId')}|{job.body.get('priority', 1)}"
        total, count = waits.get(key, [0.0, 0])
        waits[key] = [float(total) + minutes, int(count) + 1]

    # ======================================================================== job actions

    def _job(self, job_id: str) -> Record:
        job = self.store.get("jobs", job_id)
        if job is None:
            raise NotFound()
        return job

    def _assignment(self, job: Record, assignment_id: str) -> JsonObject:
        assignment = job.body.get("assignments", {}).get(assignment_id)
        if assignment is None or job.internal.get("pendingUnassign") == assignment_id:
            raise NotFound(f"Assignment not found. AssignmentId: {assignment_id}, JobId: {job.body['id']}")
        return assignment  # type: ignore[no-any-return]

    def _add_note(self, job: Record, note: str | None) -> None:
        if note:
            job.body.setdefault("notes", []).append({"message": note, "addedAt": format_time(self.now())})

    def complete_job(self, job_id: str, assignment_id: str, note: str | None) -> None:
        """Complete: the assignment ends, wrap-up begins (capacity is held until close)."""
        job = self._job(job_id)
        assignment = self._assignment(job, assignment_id)
        if job.body.get("status") != "assigned" or "completedAt" in assignment:
            raise BadRequest(f"Job {job_id!r} cannot be completed in status {job.body.get('status')!r}.")
        assignment["completedAt"] = format_time(self.now())
        job.body["status"] = "completed"
        self._add_note(job, note)
        self._touch("jobs", job)
        self._emit(
            events.job_completed(
                **self._job_base(job), assignment_id=assignment_id, worker_id=assignment.get("workerId")
            )
        )

    def close_job(
        self,
        job_id: str,
        assignment_id: str,
        disposition_code: str | None,
        close_at: datetime | None,
        note: str | None,
    ) -> None:
        """Close: release the worker's capacity now or at ``closeAt``."""
        job = self._job(job_id)
        assignment = self._assignment(job, assignment_id)
        if job.body.get("status") not in ("assigned", "completed") or "closedAt" in assignment:
            raise BadRequest(f"Job {job_id!r} cannot be closed in status {job.body.get('status')!r}.")
        job.body["dispositionCode"] = disposition_code or "Closed"
        self._add_note(job, note)
        self._touch("jobs", job)
        if close_at is not None and close_at > self.now():
            job.internal["pendingClose"] = {"assignmentId": assignment_id, "at": format_time(close_at)}
            self.timers.at(("close", job_id), close_at, lambda: self._finish_close(job_id))
            return
        self._finish_close(job_id, assignment_id)

    def _finish_close(self, job_id: str, assignment_id: str | None = None) -> None:
        job = self.store.get("jobs", job_id)
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
        now = self.now()
        assignment["closedAt"] = format_time(now)
        job.body["status"] = "closed"
        self._touch("jobs", job)
        worker_id = assignment.get("workerId")
        self._release(job, assignment_id, worker_id)
        self._emit(
            events.job_closed(
                **self._job_base(job),
                assignment_id=assignment_id,
                worker_id=worker_id,
                disposition_code=job.body.get("dispositionCode"),
            )
        )
        self._request_dispatch()

    def _release(self, job: Record, assignment_id: str, worker_id: Any) -> None:
        """Remove an assignment's capacity from its worker."""
        worker = self.store.get("workers", str(worker_id)) if worker_id is not None else None
        if worker is None:
            return
        worker.body["assignedJobs"] = [
            a for a in worker.body.get("assignedJobs", []) if a.get("assignmentId") != assignment_id
        ]
        if not worker.body["assignedJobs"] and not worker.body.get("offers"):
            worker.internal["idleSince"] = format_time(self.now())
        self._refresh_worker(worker)
        self._request_dispatch()

    def cancel_job(self, job_id: str, note: str | None, disposition_code: str | None) -> None:
        """Cancel: the job leaves matching (offers revoked) and any assignment's capacity is released."""
        job = self._job(job_id)
        status = job.body.get("status")
        if status in TERMINAL_JOB_STATUSES or status == "completed":
            raise BadRequest(f"Job {job_id!r} cannot be cancelled in status {status!r}.")
        self._cancel(job, note, disposition_code)

    def _cancel(self, job: Record, note: str | None, disposition_code: str | None) -> None:
        job_id = str(job.body["id"])
        self._leave_matching(job)
        for key in (("process", job_id), ("schedule", job_id), ("close", job_id)):
            self.timers.cancel(key)
        if job.body.get("status") == "assigned":
            for aid, assignment in job.body.get("assignments", {}).items():
                if "closedAt" not in assignment:
                    self._release(job, aid, assignment.get("workerId"))
        job.body["status"] = "cancelled"
        job.body["dispositionCode"] = disposition_code or "Cancelled"
        self._add_note(job, note)
        self._touch("jobs", job)
        self._emit(
            events.job_cancelled(
                **self._job_base(job), disposition_code=job.body["dispositionCode"], note=note
            )
        )
        self._request_dispatch()

    def unassign_job(self, job_id: str, assignment_id: str, suspend_matching: bool) -> JsonObject:
        """Unassign: the job goes back to its queue (or waits for activation with ``suspendMatching``).

        Without ``suspendMatching`` the job and the worker keep showing the assignment until the job is
        processed (``processing_delay``), as the live service did; then the capacity is released and the job
        re-queued and offered again.
        """
        job = self._job(job_id)
        assignment = self._assignment(job, assignment_id)
        if job.body.get("status") != "assigned" or "completedAt" in assignment:
            raise BadRequest(f"Job {job_id!r} cannot be unassigned in status {job.body.get('status')!r}.")
        count = int(job.internal.get("unassignments", 0)) + 1
        if count > MAX_UNASSIGNMENTS:
            raise BadRequest(f"Job {job_id!r} has been unassigned {MAX_UNASSIGNMENTS} times, the maximum.")
        job.internal["unassignments"] = count
        worker_id = assignment.get("workerId")
        self._emit(
            events.job_unassigned(**self._job_base(job), assignment_id=assignment_id, worker_id=worker_id)
        )
        if suspend_matching:
            del job.body["assignments"][assignment_id]
            self._release(job, assignment_id, worker_id)
            job.body["matchingMode"] = {"kind": "suspend"}
            self._wait_for_activation(job)
        else:
            job.internal["pendingUnassign"] = assignment_id
            self.store.touch("jobs", job_id, self.now(), changed=False)
            self._later(("unassign", job_id), functools.partial(self._finish_unassign, job_id))
        return {"jobId": job_id, "unassignmentCount": count}

    def _finish_unassign(self, job_id: str) -> None:
        job = self.store.get("jobs", job_id)
        if job is None:
            return
        assignment_id = job.internal.pop("pendingUnassign", None)
        self.store.touch("jobs", job_id, self.now(), changed=False)
        if assignment_id is None or job.body.get("status") != "assigned":
            return
        assignment = job.body.get("assignments", {}).pop(assignment_id, None)
        if assignment is None:
            return
        self._release(job, assignment_id, assignment.get("workerId"))
        self._enqueue(job, queue_changed=False)

    def reclassify_job(self, job_id: str) -> None:
        """Reclassify with the job's classification policy."""
        job = self._job(job_id)
        if job.body.get("status") not in _UNSETTLED:
            raise BadRequest(f"Job {job_id!r} cannot be reclassified in status {job.body.get('status')!r}.")
        if not job.body.get("classificationPolicyId"):
            raise BadRequest(f"Job {job_id!r} has no classificationPolicyId to reclassify with.")
        self._leave_matching(job)
        job.body["status"] = "pendingClassification"
        self._touch("jobs", job)
        self._later(("process", job_id), functools.partial(self._process, job_id))

    def _delete_job(self, job: Record) -> None:
        job_id = str(job.body["id"])
        if job.body.get("status") not in TERMINAL_JOB_STATUSES:
            raise Conflict(
                f"Job {job_id!r} is {job.body.get('status')}; cancel or close it before deleting it."
            )
        for key in list(self.timers.pending()):
            if isinstance(key, tuple) and len(key) >= 2 and key[1] == job_id:
                self.timers.cancel(key)
        self.store.delete("jobs", job_id)
        self._emit(events.job_deleted(**self._job_base(job)))

    # ========================================================================= exceptions

    def _exception_rules(self, job: Record) -> list[JsonObject]:
        queue = self.store.get("queues", str(job.body.get("queueId")))
        if queue is None or not queue.body.get("exceptionPolicyId"):
            return []
        policy = self.store.get("exceptionPolicies", str(queue.body["exceptionPolicyId"]))
        return list(policy.body.get("exceptionRules", [])) if policy is not None else []

    def _check_queue_length_triggers(self, job: Record) -> None:
        rules = [r for r in self._exception_rules(job) if r["trigger"]["kind"] == "queueLength"]
        if not rules:
            return
        others = sum(1 for j in self._queued_jobs(str(job.body["queueId"])) if j is not job)
        for rule in rules:
            if job.body.get("status") != "queued":
                return
            if rule["id"] not in job.internal.get("triggered", []) and others >= int(
                rule["trigger"]["threshold"]
            ):
                self._trigger_exception(job, rule)

    def _arm_wait_time_triggers(self, job: Record) -> None:
        job_id = str(job.body["id"])
        enqueued = job.body.get("enqueuedAt")
        rules = [r for r in self._exception_rules(job) if r["trigger"]["kind"] == "waitTime"]
        for key in list(self.timers.pending()):
            if isinstance(key, tuple) and key[0] == "waitTime" and key[1] == job_id:
                self.timers.cancel(key)
        if not enqueued or job.body.get("status") != "queued":
            return
        start = parse_time(enqueued, field="enqueuedAt")
        for rule in rules:
            if rule["id"] in job.internal.get("triggered", []):
                continue
            rule_id = str(rule["id"])
            due = start + timedelta(seconds=float(rule["trigger"]["thresholdSeconds"]))
            self.timers.at(
                ("waitTime", job_id, rule_id), due, functools.partial(self._wait_time_due, job_id, rule_id)
            )

    def _wait_time_due(self, job_id: str, rule_id: str) -> None:
        job = self.store.get("jobs", job_id)
        if job is None or job.body.get("status") != "queued":
            return
        for rule in self._exception_rules(job):
            if rule["id"] == rule_id and rule_id not in job.internal.get("triggered", []):
                self._trigger_exception(job, rule)
                return

    def _trigger_exception(self, job: Record, rule: Mapping[str, Any]) -> None:
        job.internal.setdefault("triggered", []).append(str(rule["id"]))
        self.store.touch("jobs", str(job.body["id"]), self.now(), changed=False)
        self._emit(
            events.job_exception_triggered(
                **self._job_base(job), rule_key=str(rule["id"]), exception_rule_id=str(rule["id"])
            )
        )
        for action in rule.get("actions", []):
            if job.body.get("status") in TERMINAL_JOB_STATUSES:
                return
            kind = action["kind"]
            if kind == "cancel":
                self._cancel(job, action.get("note"), action.get("dispositionCode"))
            elif kind == "manualReclassify":
                self._manual_reclassify(job, action)
            elif kind == "reclassify":
                self._exception_reclassify(job, action)

    def _manual_reclassify(self, job: Record, action: Mapping[str, Any]) -> None:
        self._leave_matching(job)
        body = job.body
        queue_changed = False
        if action.get("queueId") is not None and action["queueId"] != body.get("queueId"):
            body["queueId"] = action["queueId"]
            queue_changed = True
        if action.get("priority") is not None:
            body["priority"] = int(action["priority"])
        if action.get("workerSelectors"):
            body["attachedWorkerSelectors"] = [
                normalize_worker_selector(s, "workerSelectors") for s in action["workerSelectors"]
            ]
        self._enqueue(job, queue_changed=queue_changed)

    def _exception_reclassify(self, job: Record, action: Mapping[str, Any]) -> None:
        self._leave_matching(job)
        body = job.body
        body["labels"] = {
            **body.get("labels", {}),
            **normalize_labels(action.get("labelsToUpsert", {}), "labelsToUpsert"),
        }
        if action.get("classificationPolicyId") is not None:
            body["classificationPolicyId"] = action["classificationPolicyId"]
        body["status"] = "pendingClassification"
        self._touch("jobs", job)
        job_id = str(body["id"])
        if body.get("classificationPolicyId"):
            self._later(("process", job_id), functools.partial(self._process, job_id))
        else:
            self._classify(job)

    # ==================================================================== queue queries

    def queue_statistics(self, queue_id: str) -> JsonObject:
        """Length, estimated wait per priority (past waits in this queue) and the longest current wait."""
        self.get("queues", queue_id)
        now = self.now()
        queued = self._queued_jobs(queue_id)
        estimates: JsonObject = {}
        for key, (total, count) in self.store.meta.get("waits", {}).items():
            qid, _, priority = key.rpartition("|")
            if qid == queue_id and count:
                estimates[priority] = round(float(total) / int(count), 4)
        longest = max(
            (
                (now - parse_time(j.body["enqueuedAt"], field="enqueuedAt")).total_seconds() / 60.0
                for j in queued
            ),
            default=0.0,
        )
        return {
            "queueId": queue_id,
            "length": len(queued),
            "estimatedWaitTimeMinutes": estimates,
            "longestJobWaitTimeMinutes": normalize_numbers(round(longest, 4)),
        }

    def queue_position(self, job_id: str) -> JsonObject:
        """The job's 1-based position in its queue (priority, then age)."""
        job = self._job(job_id)
        if job.body.get("status") != "queued":
            raise BadRequest(f"Job {job_id!r} is not queued (status {job.body.get('status')!r}).")
        queue_id = str(job.body["queueId"])
        queued = self._queued_jobs(queue_id)
        position = next(i for i, j in enumerate(queued, start=1) if j is job)
        waits = self.store.meta.get("waits", {}).get(f"{queue_id}|{job.body.get('priority', 1)}")
        estimate = float(waits[0]) / int(waits[1]) if waits and waits[1] else 0.0
        return {
            "jobId": job_id,
            "position": position,
            "queueId": queue_id,
            "queueLength": len(queued),
            "estimatedWaitTimeMinutes": normalize_numbers(round(estimate * position, 4)),
        }

    # ========================================================================== restart

    def _resume(self) -> None:
        """Re-arm every timer the stored state implies (after attach, e.g. on restart with a state file)."""
        for worker in self.store.all("workers"):
            for offer in worker.body.get("offers", []):
                self._arm_offer_expiry(worker, offer)
        for job in self.store.all("jobs"):
            job_id = str(job.body["id"])
            status = job.body.get("status")
            if status in ("created", "pendingClassification", "pendingSchedule"):
                self._later(("process", job_id), functools.partial(self._process, job_id))
            elif status == "scheduled":
                self._arm_schedule(job)
            elif status == "queued":
                self._arm_selector_expiry(job)
                self._arm_wait_time_triggers(job)
            for worker_id, at in job.internal.get("retryAt", {}).items():
                self.timers.at(
                    ("retry", job_id, worker_id),
                    parse_time(at, field="retryAt"),
                    functools.partial(self._retry_due, job_id, worker_id),
                )
            if job.internal.get("pendingUnassign") is not None:
                self._later(("unassign", job_id), functools.partial(self._finish_unassign, job_id))
            pending = job.internal.get("pendingClose")
            if pending is not None:
                self.timers.at(
                    ("close", job_id),
                    parse_time(pending["at"], field="closeAt"),
                    functools.partial(self._finish_close, job_id),
                )
        self._request_dispatch()

    def reset(self) -> None:
        """Forget everything (admin reset)."""
        for key in list(self.timers.pending()):
            self.timers.cancel(key)
        self.store.clear()
