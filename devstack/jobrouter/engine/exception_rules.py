"""Exception rules: a queue's exception policy watches its queued jobs and acts when a trigger fires.

Triggers: ``queueLength`` (checked when a job is queued: at least ``threshold`` other jobs wait in the
queue) and ``waitTime`` (a timer ``thresholdSeconds`` after the job was queued). Each rule fires at most
once per time in the queue, publishes RouterJobExceptionTriggered, then runs its actions in order:
``cancel``, ``manualReclassify`` (queue, priority, selectors) or ``reclassify`` (labels, policy).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from devstack.jobrouter import event_payloads as events
from devstack.jobrouter.engine import job_lifecycle
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.job_statuses import TERMINAL_JOB_STATUSES
from devstack.jobrouter.engine.record_refs import job_ref
from devstack.jobrouter.resource_fields import normalize_labels, normalize_worker_selector
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, parse_time

__all__ = ["arm_wait_time_triggers", "check_queue_length_triggers", "exception_rules_of"]


def exception_rules_of(ctx: EngineContext, job: Record) -> list[JsonObject]:
    """The rules of the exception policy of the job's queue (none without one)."""
    queue = ctx.store.get("queues", str(job.body.get("queueId")))
    if queue is None or not queue.body.get("exceptionPolicyId"):
        return []
    policy = ctx.store.get("exceptionPolicies", str(queue.body["exceptionPolicyId"]))
    return list(policy.body.get("exceptionRules", [])) if policy is not None else []


def check_queue_length_triggers(ctx: EngineContext, job: Record) -> None:
    """A job was queued: fire each ``queueLength`` rule whose threshold the other queued jobs reach."""
    rules = [r for r in exception_rules_of(ctx, job) if r["trigger"]["kind"] == "queueLength"]
    if not rules:
        return
    itself = 1 if ctx.index.entry_of(str(job.body["id"])) is not None else 0
    others = ctx.index.queued_count(str(job.body["queueId"])) - itself
    for rule in rules:
        if job.body.get("status") != "queued":
            return
        if rule["id"] not in job.internal.get("triggered", []) and others >= int(
            rule["trigger"]["threshold"]
        ):
            _trigger(ctx, job, rule)


def arm_wait_time_triggers(ctx: EngineContext, job: Record) -> None:
    """(Re-)arm one timer per ``waitTime`` rule not fired yet, counted from the job's ``enqueuedAt``."""
    job_id = str(job.body["id"])
    enqueued = job.body.get("enqueuedAt")
    rules = [r for r in exception_rules_of(ctx, job) if r["trigger"]["kind"] == "waitTime"]
    ctx.cancel_job_timers(job_id, ("waitTime",))
    if not enqueued or job.body.get("status") != "queued":
        return
    start = parse_time(enqueued, field="enqueuedAt")
    for rule in rules:
        if rule["id"] in job.internal.get("triggered", []):
            continue
        rule_id = str(rule["id"])
        due = start + timedelta(seconds=float(rule["trigger"]["thresholdSeconds"]))
        ctx.timers.at(
            ("waitTime", job_id, rule_id), due, functools.partial(_wait_time_due, ctx, job_id, rule_id)
        )


def _wait_time_due(ctx: EngineContext, job_id: str, rule_id: str) -> None:
    job = ctx.store.get("jobs", job_id)
    if job is None or job.body.get("status") != "queued":
        return
    for rule in exception_rules_of(ctx, job):
        if rule["id"] == rule_id and rule_id not in job.internal.get("triggered", []):
            _trigger(ctx, job, rule)
            return


def _trigger(ctx: EngineContext, job: Record, rule: Mapping[str, Any]) -> None:
    job.internal.setdefault("triggered", []).append(str(rule["id"]))
    ctx.store.touch("jobs", str(job.body["id"]), ctx.now(), changed=False)
    ctx.emit(
        events.job_exception_triggered(
            job_ref(job), rule_key=str(rule["id"]), exception_rule_id=str(rule["id"])
        )
    )
    for action in rule.get("actions", []):
        if job.body.get("status") in TERMINAL_JOB_STATUSES:
            return
        kind = action["kind"]
        if kind == "cancel":
            job_lifecycle.cancel(ctx, job, action.get("note"), action.get("dispositionCode"))
        elif kind == "manualReclassify":
            _manual_reclassify(ctx, job, action)
        elif kind == "reclassify":
            _reclassify(ctx, job, action)


def _manual_reclassify(ctx: EngineContext, job: Record, action: Mapping[str, Any]) -> None:
    job_lifecycle.leave_matching(ctx, job)
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
    job_lifecycle.enqueue(ctx, job, queue_changed=queue_changed)


def _reclassify(ctx: EngineContext, job: Record, action: Mapping[str, Any]) -> None:
    job_lifecycle.leave_matching(ctx, job)
    body = job.body
    body["labels"] = {
        **body.get("labels", {}),
        **normalize_labels(action.get("labelsToUpsert", {}), "labelsToUpsert"),
    }
    if action.get("classificationPolicyId") is not None:
        body["classificationPolicyId"] = action["classificationPolicyId"]
    body["status"] = "pendingClassification"
    ctx.touch("jobs", job)
    job_id = str(body["id"])
    if body.get("classificationPolicyId"):
        ctx.later(("process", job_id), functools.partial(job_lifecycle.process, ctx, job_id))
    else:
        job_lifecycle.classify_job(ctx, job)
