"""The administration resources: distribution policies, queues, classification and exception policies.

They hold no lifecycle of their own; what matters is what a change does to the jobs that use them: a new
or changed distribution policy or queue may let queued jobs match, and a changed exception policy
re-arms the wait-time triggers of the jobs queued under it. A queue with unfinished jobs cannot be deleted.
"""

from __future__ import annotations

from devstack.jobrouter.engine import exception_rules
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.job_lifecycle import queued_jobs
from devstack.jobrouter.engine.job_statuses import TERMINAL_JOB_STATUSES
from devstack.jobrouter.errors import Conflict
from devstack.jobrouter.resource_entities import normalize_queue
from devstack.jobrouter.resource_policies import (
    normalize_classification_policy,
    normalize_distribution_policy,
    normalize_exception_policy,
)
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject

__all__ = [
    "delete_queue",
    "upsert_classification_policy",
    "upsert_distribution_policy",
    "upsert_exception_policy",
    "upsert_queue",
]


def _store(
    ctx: EngineContext, kind: str, resource_id: str, body: JsonObject, existing: Record | None
) -> Record:
    full = {"id": resource_id, **body}
    if existing is None:
        return ctx.store.create(kind, resource_id, full, ctx.now())
    existing.body = full
    ctx.touch(kind, existing)
    return existing


def upsert_distribution_policy(
    ctx: EngineContext, resource_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
) -> Record:
    """Store a distribution policy; queued jobs may now match (or match differently)."""
    record = _store(ctx, "distributionPolicies", resource_id, normalize_distribution_policy(merged), existing)
    ctx.request_dispatch()
    return record


def upsert_queue(
    ctx: EngineContext, resource_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
) -> Record:
    """Store a queue (its policies must exist); its queued jobs get their wait-time triggers re-armed."""
    body = normalize_queue(
        resource_id,
        merged,
        patch=patch,
        created=existing is None,
        previous=existing.body if existing else None,
    )
    ctx.require_reference("distributionPolicies", body.get("distributionPolicyId"), "distributionPolicyId")
    ctx.require_reference("exceptionPolicies", body.get("exceptionPolicyId"), "exceptionPolicyId")
    record = _store(ctx, "queues", resource_id, body, existing)
    for job in queued_jobs(ctx, resource_id):
        exception_rules.arm_wait_time_triggers(ctx, job)
    ctx.request_dispatch()
    return record


def upsert_classification_policy(
    ctx: EngineContext, resource_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
) -> Record:
    """Store a classification policy (its fallback queue must exist)."""
    body = normalize_classification_policy(merged)
    ctx.require_reference("queues", body.get("fallbackQueueId"), "fallbackQueueId")
    return _store(ctx, "classificationPolicies", resource_id, body, existing)


def upsert_exception_policy(
    ctx: EngineContext, resource_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
) -> Record:
    """Store an exception policy (queues and policies its actions name must exist); re-arm its triggers."""
    body = normalize_exception_policy(merged)
    for i, rule in enumerate(body["exceptionRules"]):
        for j, action in enumerate(rule["actions"]):
            field = f"exceptionRules[{i}].actions[{j}]"
            ctx.require_reference("queues", action.get("queueId"), f"{field}.queueId")
            ctx.require_reference(
                "classificationPolicies",
                action.get("classificationPolicyId"),
                f"{field}.classificationPolicyId",
            )
    record = _store(ctx, "exceptionPolicies", resource_id, body, existing)
    for queue in ctx.store.all("queues"):
        if queue.body.get("exceptionPolicyId") == resource_id:
            for job in queued_jobs(ctx, str(queue.body["id"])):
                exception_rules.arm_wait_time_triggers(ctx, job)
    return record


def delete_queue(ctx: EngineContext, queue_id: str) -> None:
    """Delete a queue, unless a job in it is not closed or cancelled yet."""
    if any(
        j.body.get("queueId") == queue_id and j.body.get("status") not in TERMINAL_JOB_STATUSES
        for j in ctx.store.all("jobs")
    ):
        raise Conflict("Validation failed: \r\n -- : There is active job with this queue")
    ctx.store.delete("queues", queue_id)
