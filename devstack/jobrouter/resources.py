"""The fields of each Job Router resource kind: which are writable, which read-only, and their wire order.

The engine merge-patches only the writable part of a stored resource (:func:`writable_part`), rejects a
PATCH naming a field the resource does not have (:func:`check_patch_fields`), and the HTTP layer renders a
stored body with the service's key order and the ``etag`` last (:func:`render`). Validation and defaults
per kind are in :mod:`~devstack.jobrouter.resource_policies` (distribution, classification and exception
policies) and :mod:`~devstack.jobrouter.resource_entities` (queues, workers, jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.wire import JsonObject, ordered

__all__ = ["KEY_ORDER", "READ_ONLY", "WRITABLE", "check_patch_fields", "render", "writable_part"]

WRITABLE: Final[Mapping[str, frozenset[str]]] = {
    "distributionPolicies": frozenset({"name", "offerExpiresAfterSeconds", "mode"}),
    "queues": frozenset({"name", "distributionPolicyId", "labels", "exceptionPolicyId"}),
    "classificationPolicies": frozenset(
        {
            "name",
            "fallbackQueueId",
            "queueSelectorAttachments",
            "prioritizationRule",
            "workerSelectorAttachments",
        }
    ),
    "exceptionPolicies": frozenset({"name", "exceptionRules"}),
    "workers": frozenset({"queues", "capacity", "labels", "tags", "channels", "availableForOffers"}),
    "jobs": frozenset(
        {
            "channelReference",
            "channelId",
            "classificationPolicyId",
            "queueId",
            "priority",
            "dispositionCode",
            "requestedWorkerSelectors",
            "labels",
            "tags",
            "notes",
            "matchingMode",
        }
    ),
}
READ_ONLY: Final[Mapping[str, frozenset[str]]] = {
    "distributionPolicies": frozenset({"id", "etag"}),
    "queues": frozenset({"id", "etag"}),
    "classificationPolicies": frozenset({"id", "etag"}),
    "exceptionPolicies": frozenset({"id", "etag"}),
    "workers": frozenset({"id", "etag", "state", "offers", "assignedJobs", "loadRatio"}),
    "jobs": frozenset(
        {"id", "etag", "status", "enqueuedAt", "attachedWorkerSelectors", "assignments", "scheduledAt"}
    ),
}


def check_patch_fields(kind: str, patch: Mapping[str, Any]) -> None:
    """Reject fields the resource does not have (read-only fields are accepted and ignored)."""
    known = WRITABLE[kind] | READ_ONLY[kind]
    unknown = sorted(k for k in patch if k not in known)
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(repr(u) for u in unknown)}; writable fields are "
            f"{', '.join(sorted(WRITABLE[kind]))}"
        )


def writable_part(kind: str, body: Mapping[str, Any]) -> JsonObject:
    """The writable fields of a stored body (what a merge-patch applies to)."""
    return {k: v for k, v in body.items() if k in WRITABLE[kind]}


JOB_KEYS: Final = (
    "id",
    "channelReference",
    "status",
    "enqueuedAt",
    "channelId",
    "classificationPolicyId",
    "queueId",
    "priority",
    "dispositionCode",
    "requestedWorkerSelectors",
    "attachedWorkerSelectors",
    "labels",
    "assignments",
    "tags",
    "notes",
    "scheduledAt",
    "matchingMode",
)
WORKER_KEYS: Final = (
    "id",
    "state",
    "queues",
    "capacity",
    "labels",
    "tags",
    "channels",
    "offers",
    "assignedJobs",
    "loadRatio",
    "availableForOffers",
)
KEY_ORDER: Final[Mapping[str, tuple[str, ...]]] = {
    "distributionPolicies": ("id", "name", "offerExpiresAfterSeconds", "mode"),
    "queues": ("id", "name", "distributionPolicyId", "labels", "exceptionPolicyId"),
    "classificationPolicies": (
        "id",
        "name",
        "fallbackQueueId",
        "queueSelectorAttachments",
        "prioritizationRule",
        "workerSelectorAttachments",
    ),
    "exceptionPolicies": ("id", "name", "exceptionRules"),
    "workers": WORKER_KEYS,
    "jobs": JOB_KEYS,
}


def render(kind: str, body: Mapping[str, Any], etag: str) -> JsonObject:
    """The resource as the service returns it: keys in service order, ``etag`` last."""
    out = ordered(body, KEY_ORDER[kind])
    out["etag"] = etag
    return out
