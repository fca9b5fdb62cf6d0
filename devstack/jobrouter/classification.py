"""Pure classification: a job plus a classification policy gives a queue, a priority and attached selectors.

Supported attachment kinds: ``static``, ``conditional`` (with a ``static`` condition), ``passThrough``,
``ruleEngine`` (with a ``static`` or ``directMap`` rule) and ``weightedAllocation``. Unsupported rule kinds
never get here: :mod:`devstack.jobrouter.resource_policies` rejects them when the policy is upserted.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.matching import selectors_match
from devstack.jobrouter.resource_fields import normalize_worker_selector
from devstack.jobrouter.wire import JsonObject

__all__ = ["Classification", "ClassificationFailure", "classify"]


class ClassificationFailure(Exception):
    """Classification could not produce a queue (the job becomes ``classificationFailed``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome of a successful classification."""

    queue_id: str
    priority: int
    attached_worker_selectors: list[JsonObject]


def _truthy(rule: Mapping[str, Any]) -> bool:
    value = rule.get("value")
    return bool(value) and value != "false"


def _pick(allocations: Sequence[Mapping[str, Any]], rng: random.Random) -> Mapping[str, Any]:
    weights = [float(a["weight"]) for a in allocations]
    return rng.choices(list(allocations), weights=weights, k=1)[0]


def _selectors_from(
    attachment: Mapping[str, Any], job_labels: Mapping[str, Any], rng: random.Random, *, worker: bool
) -> list[JsonObject]:
    one, many = ("workerSelector", "workerSelectors") if worker else ("queueSelector", "queueSelectors")
    found: list[Mapping[str, Any]] = []
    match attachment["kind"]:
        case "static":
            found = [attachment[one]]
        case "conditional" if _truthy(attachment["condition"]):
            found = list(attachment[many])
        case "passThrough" if str(attachment["key"]) in job_labels:
            key = str(attachment["key"])
            sel: JsonObject = {
                "key": key,
                "labelOperator": attachment["labelOperator"],
                "value": job_labels[key],
            }
            if worker and attachment.get("expiresAfterSeconds") is not None:
                sel["expiresAfterSeconds"] = attachment["expiresAfterSeconds"]
            found = [sel]
        case "ruleEngine" if attachment["rule"]["kind"] == "directMap":
            found = [{"key": k, "labelOperator": "equal", "value": v} for k, v in job_labels.items()]
        case "ruleEngine" if isinstance(attachment["rule"].get("value"), list):
            found = list(attachment["rule"]["value"])
        case "weightedAllocation":
            found = list(_pick(attachment["allocations"], rng)[many])
    return [dict(s) for s in found]


def classify(
    job: Mapping[str, Any],
    policy: Mapping[str, Any],
    queues: Mapping[str, Mapping[str, Any]],
    rng: random.Random,
    *,
    requested_queue_id: str | None = None,
) -> Classification:
    """Classify ``job`` with ``policy`` against the existing ``queues`` (id -> queue body).

    The queue: the first queue (by id) matching all queue selectors; without queue selectors, the
    ``queueId`` the client itself set on the job (``requested_queue_id``); else the fallback queue.
    """
    labels: Mapping[str, Any] = job.get("labels", {})
    queue_selectors: list[JsonObject] = []
    for attachment in policy.get("queueSelectorAttachments", []):
        queue_selectors.extend(_selectors_from(attachment, labels, rng, worker=False))

    queue_id: str | None = None
    if queue_selectors:
        matching = sorted(
            qid for qid, q in queues.items() if selectors_match(q.get("labels", {}), queue_selectors)
        )
        if matching:
            queue_id = matching[0]
    if queue_id is None and not queue_selectors and requested_queue_id in queues:
        queue_id = requested_queue_id
    if queue_id is None:
        fallback = policy.get("fallbackQueueId")
        if fallback is not None and fallback in queues:
            queue_id = str(fallback)
        elif fallback is not None:
            raise ClassificationFailure("QueueNotFound", f"Fallback queue {fallback!r} does not exist.")
        else:
            raise ClassificationFailure(
                "QueueSelectionFailed",
                "No queue matches the queue selectors and the classification policy has no fallback queue.",
            )

    priority = int(job.get("priority", 1))
    rule = policy.get("prioritizationRule")
    if rule is not None and rule.get("kind") == "static" and rule.get("value") is not None:
        priority = int(rule["value"])

    attached: list[JsonObject] = []
    for attachment in policy.get("workerSelectorAttachments", []):
        for raw in _selectors_from(attachment, labels, rng, worker=True):
            try:
                attached.append(normalize_worker_selector(raw, "workerSelector"))
            except BadRequest as exc:
                raise ClassificationFailure("InvalidWorkerSelector", exc.message) from exc
    return Classification(queue_id=queue_id, priority=priority, attached_worker_selectors=attached)
