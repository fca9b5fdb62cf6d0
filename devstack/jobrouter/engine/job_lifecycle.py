"""Jobs from creation to the queue and out of it: create, update, classify, queue, reclassify, cancel, delete.

A new job is ``created`` (``pendingClassification`` with a classification policy, ``pendingSchedule``
with ``scheduleAndSuspend``); after ``processing_delay`` it is classified and ``queued``, or scheduled, or
left waiting for activation. Queued jobs are matched by :mod:`.dispatch`; leaving the queue revokes the
job's offers. Queueing a job evaluates its queue's exception rules (:mod:`.exception_rules`), whose
actions come back here to cancel or re-queue it: the two modules call each other.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from devstack.jobrouter import event_payloads as events
from devstack.jobrouter.classification import (
    ClassificationFailure,
    classify,
    job_payload,
    remote_rules,
)
from devstack.jobrouter.engine import exception_rules
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.job_scheduling import arm_schedule, arm_selector_expiry, wait_for_activation
from devstack.jobrouter.engine.job_statuses import TERMINAL_JOB_STATUSES, UNSETTLED_JOB_STATUSES
from devstack.jobrouter.engine.offer_lifecycle import find_offer, revoke
from devstack.jobrouter.engine.record_refs import job_ref
from devstack.jobrouter.engine.worker_state import release_assignment
from devstack.jobrouter.errors import BadRequest, Conflict, NotFound
from devstack.jobrouter.resource_entities import normalize_job
from devstack.jobrouter.resources import WRITABLE
from devstack.jobrouter.router_rules import FunctionRule, RemoteRule, remote_rule
from devstack.jobrouter.rule_call_tasks import RuleCall, RuleCallResult
from devstack.jobrouter.rule_http import RuleCallError
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, format_time, parse_time

__all__ = [
    "add_note",
    "cancel",
    "cancel_job",
    "classify_job",
    "delete_job",
    "enqueue",
    "leave_matching",
    "process",
    "queued_jobs",
    "reclassify_job",
    "require_job",
    "upsert_job",
]

log = logging.getLogger(__name__)


def require_job(ctx: EngineContext, job_id: str) -> Record:
    """The job, or :class:`NotFound`."""
    job = ctx.store.get("jobs", job_id)
    if job is None:
        raise NotFound()
    return job


def add_note(ctx: EngineContext, job: Record, note: str | None) -> None:
    """Append a note (if any) stamped with the engine's clock."""
    if note:
        job.body.setdefault("notes", []).append({"message": note, "addedAt": format_time(ctx.now())})


def upsert_job(
    ctx: EngineContext, job_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
) -> Record:
    """Create a job, or apply a PATCH to one (which may move it forward again)."""
    created = existing is None
    body = normalize_job(merged, created=created, now=ctx.now())
    ctx.require_reference("queues", body.get("queueId") if "queueId" in patch or created else None, "queueId")
    ctx.require_reference(
        "classificationPolicies",
        body.get("classificationPolicyId") if "classificationPolicyId" in patch or created else None,
        "classificationPolicyId",
    )
    if existing is None:
        return _create_job(ctx, job_id, body)
    _update_job(ctx, existing, body, patch)
    return existing


def _create_job(ctx: EngineContext, job_id: str, body: JsonObject) -> Record:
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
    record = ctx.store.create("jobs", job_id, full, ctx.now())
    record.internal = {"offers": {}, "declined": {}, "retryAt": {}, "triggered": [], "unassignments": 0}
    if body.get("queueId"):
        record.internal["requestedQueueId"] = body["queueId"]
    ctx.emit(
        events.job_received(
            job_ref(record),
            job_status=status,
            unavailable_for_matching=mode["kind"] != "queueAndMatch",
            classification_policy_id=body.get("classificationPolicyId"),
            priority=body.get("priority"),
            requested_worker_selectors=body["requestedWorkerSelectors"],
            scheduled_on=parse_time(mode["scheduleAt"], field="scheduleAt") if "scheduleAt" in mode else None,
        )
    )
    ctx.later(("process", job_id), functools.partial(process, ctx, job_id))
    return record


def _update_job(ctx: EngineContext, job: Record, body: JsonObject, patch: JsonObject) -> None:  # noqa: C901 - one arm per matching mode and status
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
    ctx.touch("jobs", job)
    status, mode = str(job.body["status"]), body["matchingMode"]
    later_process = functools.partial(ctx.later, ("process", job_id), functools.partial(process, ctx, job_id))
    if status not in UNSETTLED_JOB_STATUSES:
        return
    if mode["kind"] == "scheduleAndSuspend":
        if mode != old_mode or status not in ("pendingSchedule", "scheduled", "waitingForActivation"):
            leave_matching(ctx, job)
            job.body["status"] = "pendingSchedule"
            later_process()
    elif mode["kind"] == "suspend":
        if status != "waitingForActivation":
            later_process()
    elif job.body.get("classificationPolicyId"):
        leave_matching(ctx, job)
        job.body["status"] = "pendingClassification"
        later_process()
    elif status != "queued":
        later_process()
    elif job.body.get("queueId") != old_queue:
        leave_matching(ctx, job)
        enqueue(ctx, job, queue_changed=True)
    else:
        arm_selector_expiry(ctx, job)
        ctx.request_dispatch()


def process(ctx: EngineContext, job_id: str) -> None:
    """Move a job forward after an upsert: schedule, suspend, classify or queue it."""
    job = ctx.store.get("jobs", job_id)
    if job is None:
        return
    body = job.body
    status = str(body["status"])
    mode = body.get("matchingMode", {"kind": "queueAndMatch"})
    if status not in UNSETTLED_JOB_STATUSES:
        return
    if mode["kind"] == "scheduleAndSuspend":
        if status == "pendingSchedule":
            body["status"] = "scheduled"
            body["scheduledAt"] = format_time(ctx.now())
            ctx.touch("jobs", job)
            arm_schedule(ctx, job)
        return
    if mode["kind"] == "suspend":
        leave_matching(ctx, job)
        wait_for_activation(ctx, job)
        return
    if (body.get("classificationPolicyId") and status != "queued") or status == "pendingClassification":
        classify_job(ctx, job)
    elif status != "queued":
        enqueue(ctx, job, queue_changed=False)


def classify_job(ctx: EngineContext, job: Record) -> None:
    """Run the job's classification policy: queue it where it says, or mark it ``classificationFailed``.

    A policy with ``function``/``webhook`` rules calls them first: the job stays ``pendingClassification``
    until they answer (or fail, or time out), then is classified with their answers.
    """
    policy_id = str(job.body.get("classificationPolicyId"))
    policy = ctx.store.get("classificationPolicies", policy_id)
    if policy is None:
        failure = ClassificationFailure(
            "ClassificationPolicyNotFound", f"Classification policy {policy_id!r} does not exist."
        )
        _classification_failed(ctx, job, policy_id, failure)
        return
    remote = remote_rules(policy.body)
    if not remote:
        _apply_classification(ctx, job, policy_id, policy.body, {})
        return
    attempt = int(job.internal.get("classificationAttempt", 0)) + 1
    job.internal["classificationAttempt"] = attempt
    if job.body.get("status") != "pendingClassification":
        job.body["status"] = "pendingClassification"
        ctx.touch("jobs", job)
    snapshot = copy.deepcopy(policy.body)  # the policy as it was when its rules were called
    calls = [RuleCall(target, _target_of(rule), job_payload(job.body)) for target, rule in remote]
    pending = _RuleCalls(str(job.body["id"]), attempt, policy_id, snapshot, calls)
    answered = functools.partial(_rules_answered, ctx, pending)
    if ctx.rule_calls is None or ctx.loop is None:
        answered([RuleCallError("the emulator makes no rule calls until it is started")] * len(calls))
        return
    ctx.rule_calls.start(ctx.loop, calls, answered)


def _target_of(rule: Mapping[str, Any]) -> RemoteRule:
    target = remote_rule(rule)
    assert target is not None, "remote_rules lists function and webhook rules only"
    return target


@dataclass(frozen=True, slots=True)
class _RuleCalls:
    """A classification waiting for its policy's function/webhook rules to answer."""

    job_id: str
    attempt: int
    policy_id: str
    policy: JsonObject
    calls: list[RuleCall]


def _rules_answered(ctx: EngineContext, pending: _RuleCalls, results: list[RuleCallResult]) -> None:
    """Classify with the rules' answers, unless the job moved on meanwhile (updated, cancelled...)."""
    job = ctx.store.get("jobs", pending.job_id)
    if (
        job is None
        or job.internal.get("classificationAttempt") != pending.attempt
        or job.body.get("status") != "pendingClassification"
        # updated meanwhile (its own classification is on its way): the answers are for other labels
        or job.body.get("classificationPolicyId") != pending.policy_id
        or job_payload(job.body) != pending.calls[0].payload
    ):
        return
    calls, policy_id, policy = pending.calls, pending.policy_id, pending.policy
    failed = next(
        (
            (call, result)
            for call, result in zip(calls, results, strict=True)
            if isinstance(result, RuleCallError)
        ),
        None,
    )
    if failed is not None:
        call, error = failed
        code = "FunctionRuleFailed" if isinstance(call.rule, FunctionRule) else "WebhookRuleFailed"
        failure = ClassificationFailure(code, f"{call.target}: {error}", target=call.target)
        _classification_failed(ctx, job, policy_id, failure)
    else:
        outputs = {call.target: result for call, result in zip(calls, results, strict=True)}
        _apply_classification(ctx, job, policy_id, policy, outputs)
    ctx.commit()


def _apply_classification(
    ctx: EngineContext, job: Record, policy_id: str, policy: JsonObject, remote_outputs: Mapping[str, Any]
) -> None:
    body = job.body
    queues = {qid: r.body for qid, r in ctx.store.collections["queues"].items()}
    try:
        result = classify(
            body,
            policy,
            queues,
            ctx.rng,
            requested_queue_id=job.internal.get("requestedQueueId"),
            remote_outputs=remote_outputs,
        )
    except ClassificationFailure as failure:
        _classification_failed(ctx, job, policy_id, failure)
        return
    queue_changed = body.get("queueId") != result.queue_id
    body["queueId"] = result.queue_id
    body["priority"] = result.priority
    body["attachedWorkerSelectors"] = result.attached_worker_selectors
    ctx.touch("jobs", job)
    ctx.emit(
        events.job_classified(
            replace(job_ref(job), queue_id=result.queue_id),
            queue_details=queues[result.queue_id],
            classification_policy_id=policy_id,
            priority=result.priority,
            attached_worker_selectors=result.attached_worker_selectors,
        )
    )
    enqueue(ctx, job, queue_changed=queue_changed)


def _classification_failed(
    ctx: EngineContext, job: Record, policy_id: str, failure: ClassificationFailure
) -> None:
    job.body["status"] = "classificationFailed"
    ctx.touch("jobs", job)
    log.info("job %s: classification failed: %s", job.body["id"], failure.message)
    ctx.emit(
        events.job_classification_failed(
            job_ref(job), classification_policy_id=policy_id, errors=[failure.as_error()]
        )
    )


def enqueue(ctx: EngineContext, job: Record, *, queue_changed: bool) -> None:
    """Put the job (back) in its queue for matching and publish RouterJobQueued."""
    body = job.body
    now = ctx.now()
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
    ctx.touch("jobs", job)
    ctx.emit(
        events.job_queued(
            job_ref(job),
            priority=body.get("priority"),
            attached_worker_selectors=body.get("attachedWorkerSelectors", []),
            requested_worker_selectors=body.get("requestedWorkerSelectors", []),
        )
    )
    arm_selector_expiry(ctx, job)
    exception_rules.check_queue_length_triggers(ctx, job)
    if job.body.get("status") == "queued":
        exception_rules.arm_wait_time_triggers(ctx, job)
        ctx.request_dispatch()


def leave_matching(ctx: EngineContext, job: Record) -> None:
    """Revoke the job's offers and stop its queue timers (it is leaving the queue)."""
    for offer_id, worker_id in list(job.internal.get("offers", {}).items()):
        worker = ctx.store.get("workers", worker_id)
        offer = find_offer(worker, offer_id) if worker is not None else None
        if worker is not None and offer is not None:
            revoke(ctx, worker, offer, reason="jobLeftQueue")
        else:
            job.internal["offers"].pop(offer_id, None)
    ctx.cancel_job_timers(str(job.body["id"]), ("waitTime", "selectors"))


def queued_jobs(ctx: EngineContext, queue_id: str) -> list[Record]:
    """The queue's queued jobs in matching order: priority (highest first), then time in queue."""
    jobs = (ctx.store.get("jobs", job_id) for job_id in ctx.index.queued_job_ids(queue_id))
    return [job for job in jobs if job is not None]


def reclassify_job(ctx: EngineContext, job_id: str) -> None:
    """Reclassify with the job's classification policy."""
    job = require_job(ctx, job_id)
    if job.body.get("status") not in UNSETTLED_JOB_STATUSES:
        raise BadRequest(f"Job {job_id!r} cannot be reclassified in status {job.body.get('status')!r}.")
    if not job.body.get("classificationPolicyId"):
        raise BadRequest(f"Job {job_id!r} has no classificationPolicyId to reclassify with.")
    leave_matching(ctx, job)
    job.body["status"] = "pendingClassification"
    ctx.touch("jobs", job)
    ctx.later(("process", job_id), functools.partial(process, ctx, job_id))


def cancel_job(ctx: EngineContext, job_id: str, note: str | None, disposition_code: str | None) -> None:
    """Cancel: the job leaves matching (offers revoked) and any assignment's capacity is released."""
    job = require_job(ctx, job_id)
    status = job.body.get("status")
    if status in TERMINAL_JOB_STATUSES or status == "completed":
        raise BadRequest(f"Job {job_id!r} cannot be cancelled in status {status!r}.")
    cancel(ctx, job, note, disposition_code)


def cancel(ctx: EngineContext, job: Record, note: str | None, disposition_code: str | None) -> None:
    """Cancel without the status check (an exception rule's ``cancel`` action comes here too)."""
    job_id = str(job.body["id"])
    leave_matching(ctx, job)
    for key in (("process", job_id), ("schedule", job_id), ("close", job_id)):
        ctx.timers.cancel(key)
    if job.body.get("status") == "assigned":
        for aid, assignment in job.body.get("assignments", {}).items():
            if "closedAt" not in assignment:
                release_assignment(ctx, aid, assignment.get("workerId"))
    job.body["status"] = "cancelled"
    job.body["dispositionCode"] = disposition_code or "Cancelled"
    add_note(ctx, job, note)
    ctx.touch("jobs", job)
    ctx.emit(events.job_cancelled(job_ref(job), disposition_code=job.body["dispositionCode"], note=note))
    ctx.request_dispatch()


def delete_job(ctx: EngineContext, job: Record) -> None:
    """Delete a closed or cancelled job (and any timer it still has)."""
    job_id = str(job.body["id"])
    if job.body.get("status") not in TERMINAL_JOB_STATUSES:
        raise Conflict(f"Job {job_id!r} is {job.body.get('status')}; cancel or close it before deleting it.")
    ctx.cancel_job_timers(job_id)
    ctx.store.delete("jobs", job_id)
    ctx.emit(events.job_deleted(job_ref(job)))
