"""List filters: the query parameters of ``GET /routing/jobs`` and ``GET /routing/workers`` as predicates.

Jobs filter by ``status`` (``all``, ``active`` or one status), ``queueId``, ``channelId``,
``classificationPolicyId``, ``scheduledBefore``/``scheduledAfter`` (on ``matchingMode.scheduleAt``);
workers by ``state``, ``queueId``, ``channelId`` and ``hasCapacity``. Other collections take no filter.
An unknown parameter or a bad value is a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from azure.communication.jobrouter.models import RouterJobStatus

from devstack.jobrouter.engine import ACTIVE_JOB_STATUSES
from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.matching import capacity_left
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, parse_time

__all__ = ["list_filter"]

RecordFilter = Callable[[Record], bool]

_JOB_STATUSES: Final = frozenset(status.value for status in RouterJobStatus)
_WORKER_STATES: Final = frozenset({"active", "draining", "inactive"})
_JOB_FILTERS: Final = frozenset(
    {"status", "queueId", "channelId", "classificationPolicyId", "scheduledBefore", "scheduledAfter"}
)
_WORKER_FILTERS: Final = frozenset({"state", "channelId", "queueId", "hasCapacity"})


def list_filter(kind: str, filters: Mapping[str, str]) -> RecordFilter | None:
    """The predicate for a list request's filters (None: keep everything)."""
    if kind == "jobs":
        return _job_filter(filters)
    if kind == "workers":
        return _worker_filter(filters)
    unknown = sorted(filters)
    if unknown:
        raise BadRequest(f"Unknown query parameter(s) for {kind}: {', '.join(unknown)}")
    return None


def _scheduled_within(job: JsonObject, before: datetime | None, after: datetime | None) -> bool:
    """True when no window is asked for, or the job's ``scheduleAt`` is inside it."""
    if before is None and after is None:
        return True
    at = job.get("matchingMode", {}).get("scheduleAt")
    if at is None:
        return False
    when = parse_time(at, field="scheduleAt")
    return not ((before is not None and when > before) or (after is not None and when < after))


def _job_filter(filters: Mapping[str, str]) -> RecordFilter:
    unknown = sorted(set(filters) - _JOB_FILTERS)
    if unknown:
        raise BadRequest(f"Unknown query parameter(s) for jobs: {', '.join(unknown)}")
    status = filters.get("status", "all")
    if status not in _JOB_STATUSES | {"all", "active"}:
        raise BadRequest(f"'status' must be all, active or a job status; got {status!r}")
    before = (
        parse_time(filters["scheduledBefore"], field="scheduledBefore")
        if "scheduledBefore" in filters
        else None
    )
    after = (
        parse_time(filters["scheduledAfter"], field="scheduledAfter") if "scheduledAfter" in filters else None
    )

    def keep(record: Record) -> bool:
        job = record.body
        job_status = job.get("status")
        if status == "active" and job_status not in ACTIVE_JOB_STATUSES:
            return False
        if status not in ("all", "active") and job_status != status:
            return False
        for key in ("queueId", "channelId", "classificationPolicyId"):
            if key in filters and job.get(key) != filters[key]:
                return False
        return _scheduled_within(job, before, after)

    return keep


def _worker_filter(filters: Mapping[str, str]) -> RecordFilter:
    unknown = sorted(set(filters) - _WORKER_FILTERS)
    if unknown:
        raise BadRequest(f"Unknown query parameter(s) for workers: {', '.join(unknown)}")
    state = filters.get("state", "all")
    if state not in _WORKER_STATES | {"all"}:
        raise BadRequest(f"'state' must be all, active, draining or inactive; got {state!r}")
    has_capacity_text = filters.get("hasCapacity", "false").lower()
    if has_capacity_text not in ("true", "false"):
        raise BadRequest(f"'hasCapacity' must be true or false; got {filters.get('hasCapacity')!r}")
    has_capacity = has_capacity_text == "true"
    channel_id = filters.get("channelId")

    def keep(record: Record) -> bool:
        worker = record.body
        if state != "all" and worker.get("state") != state:
            return False
        if "queueId" in filters and filters["queueId"] not in worker.get("queues", []):
            return False
        channels = [
            c for c in worker.get("channels", []) if channel_id is None or c.get("channelId") == channel_id
        ]
        if channel_id is not None and not channels:
            return False
        if has_capacity:
            left = capacity_left(worker)
            return (
                any(left >= int(c.get("capacityCostPerJob", 0)) for c in channels)
                and int(worker.get("capacity", 0)) > 0
            )
        return True

    return keep
