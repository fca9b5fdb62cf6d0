"""Pure classification: a job plus a classification policy gives a queue, a priority and attached selectors.

Attachment kinds: ``static``, ``conditional``, ``passThrough``, ``ruleEngine`` and ``weightedAllocation``;
rules of every kind. ``static``, ``directMap`` and Power Fx ``expression`` rules are evaluated here;
``function`` and ``webhook`` rules need an HTTP call, so the engine first makes the calls that
``remote_rules`` lists and passes their answers in as ``remote_outputs``. A rule that fails, or yields
something its position cannot use, fails the classification naming the rule (``ClassificationFailure``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.matching import selectors_match
from devstack.jobrouter.resource_fields import LABEL_OPERATORS, normalize_worker_selector
from devstack.jobrouter.router_rules import REMOTE_RULE_KINDS
from devstack.jobrouter.rule_values import (
    RuleFailure,
    as_condition,
    as_priority,
    as_selectors,
    describe,
    local_output,
)
from devstack.jobrouter.wire import JsonObject

__all__ = [
    "Classification",
    "ClassificationFailure",
    "classify",
    "job_payload",
    "remote_rules",
]


class ClassificationFailure(Exception):
    """Classification could not produce a queue (the job becomes ``classificationFailed``)."""

    def __init__(self, code: str, message: str, *, target: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.target = target

    @classmethod
    def from_rule(cls, failure: RuleFailure) -> ClassificationFailure:
        """The classification failure a failing rule causes."""
        return cls(failure.code, failure.message, target=failure.target)

    def as_error(self) -> JsonObject:
        """The ``errors[]`` item of RouterJobClassificationFailed."""
        error: JsonObject = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return error


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome of a successful classification."""

    queue_id: str
    priority: int
    attached_worker_selectors: list[JsonObject]


def _rules(policy: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every rule of the policy with its position (``queueSelectorAttachments[0].condition``...)."""
    for field in ("queueSelectorAttachments", "workerSelectorAttachments"):
        for i, attachment in enumerate(policy.get(field, [])):
            for key in ("condition", "rule"):
                if key in attachment:
                    yield f"{field}[{i}].{key}", attachment[key]
    if policy.get("prioritizationRule") is not None:
        yield "prioritizationRule", policy["prioritizationRule"]


def remote_rules(policy: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The policy's ``function``/``webhook`` rules, with their positions, in the policy's order."""
    return [(target, rule) for target, rule in _rules(policy) if rule.get("kind") in REMOTE_RULE_KINDS]


def job_payload(job: Mapping[str, Any]) -> JsonObject:
    """The body a classification function/webhook rule is sent: the job's labels under ``job``."""
    return {"job": dict(job.get("labels", {}))}


class _RuleOutputs:
    """Rule outputs for one job: local rules evaluated on demand, remote ones as answered."""

    def __init__(self, labels: Mapping[str, Any], remote_outputs: Mapping[str, Any]) -> None:
        self.labels = labels
        self.remote_outputs = remote_outputs

    def output(self, rule: Mapping[str, Any], target: str) -> Any:
        if rule.get("kind") in REMOTE_RULE_KINDS:
            if target not in self.remote_outputs:
                raise RuleFailure(target, f"the {rule.get('kind')} rule was not called")
            return self.remote_outputs[target]
        return local_output(rule, target, job_labels=self.labels)

    def condition(self, rule: Mapping[str, Any], target: str) -> bool:
        if rule.get("kind") == "static":
            value = rule.get("value")
            return bool(value) and value != "false"
        return as_condition(self.output(rule, target), target)


def _pick(allocations: Sequence[Mapping[str, Any]], rng: random.Random) -> Mapping[str, Any]:
    weights = [float(a["weight"]) for a in allocations]
    return rng.choices(list(allocations), weights=weights, k=1)[0]


def _selectors_from(
    attachment: Mapping[str, Any], field: str, outputs: _RuleOutputs, rng: random.Random, *, worker: bool
) -> list[JsonObject]:
    one, many = ("workerSelector", "workerSelectors") if worker else ("queueSelector", "queueSelectors")
    labels = outputs.labels
    found: list[Mapping[str, Any]] = []
    match attachment["kind"]:
        case "static":
            found = [attachment[one]]
        case "conditional" if outputs.condition(attachment["condition"], f"{field}.condition"):
            found = list(attachment[many])
        case "passThrough" if str(attachment["key"]) in labels:
            key = str(attachment["key"])
            sel: JsonObject = {"key": key, "labelOperator": attachment["labelOperator"], "value": labels[key]}
            if worker and attachment.get("expiresAfterSeconds") is not None:
                sel["expiresAfterSeconds"] = attachment["expiresAfterSeconds"]
            found = [sel]
        case "ruleEngine":
            target = f"{field}.rule"
            found = list(as_selectors(outputs.output(attachment["rule"], target), target))
        case "weightedAllocation":
            found = list(_pick(attachment["allocations"], rng)[many])
    return [dict(s) for s in found]


def _queue_id(
    policy: Mapping[str, Any],
    queues: Mapping[str, Mapping[str, Any]],
    queue_selectors: Sequence[Mapping[str, Any]],
    requested_queue_id: str | None,
) -> str:
    if queue_selectors:
        matching = sorted(
            qid for qid, q in queues.items() if selectors_match(q.get("labels", {}), queue_selectors)
        )
        if matching:
            return matching[0]
    elif requested_queue_id in queues:
        return str(requested_queue_id)
    fallback = policy.get("fallbackQueueId")
    if fallback is not None and fallback in queues:
        return str(fallback)
    if fallback is not None:
        raise ClassificationFailure("QueueNotFound", f"Fallback queue {fallback!r} does not exist.")
    raise ClassificationFailure(
        "QueueSelectionFailed",
        "No queue matches the queue selectors and the classification policy has no fallback queue.",
    )


def _checked_queue_selectors(raw: Sequence[JsonObject], field: str) -> list[JsonObject]:
    checked = []
    for i, selector in enumerate(raw):
        key, operator = selector.get("key"), selector.get("labelOperator")
        canonical = LABEL_OPERATORS.get(operator.lower()) if isinstance(operator, str) else None
        if not isinstance(key, str) or not key or canonical is None:
            raise ClassificationFailure(
                "InvalidQueueSelector",
                f"{field}: queue selector {i} needs a key and one of the label operators "
                f"({', '.join(LABEL_OPERATORS.values())}), got {describe(selector)}",
                target=field,
            )
        checked.append({**selector, "labelOperator": canonical})
    return checked


def classify(
    job: Mapping[str, Any],
    policy: Mapping[str, Any],
    queues: Mapping[str, Mapping[str, Any]],
    rng: random.Random,
    *,
    requested_queue_id: str | None = None,
    remote_outputs: Mapping[str, Any] | None = None,
) -> Classification:
    """Classify ``job`` with ``policy`` against the existing ``queues`` (id -> queue body).

    The queue: the first queue (by id) matching all queue selectors; without queue selectors, the
    ``queueId`` the client itself set on the job (``requested_queue_id``); else the fallback queue.
    ``remote_outputs`` holds the answers of the policy's function/webhook rules by position.
    """
    outputs = _RuleOutputs(job.get("labels", {}), remote_outputs or {})
    try:
        queue_selectors: list[JsonObject] = []
        for i, attachment in enumerate(policy.get("queueSelectorAttachments", [])):
            field = f"queueSelectorAttachments[{i}]"
            raw = _selectors_from(attachment, field, outputs, rng, worker=False)
            queue_selectors.extend(_checked_queue_selectors(raw, field))
        queue_id = _queue_id(policy, queues, queue_selectors, requested_queue_id)

        priority = int(job.get("priority", 1))
        rule = policy.get("prioritizationRule")
        if rule is not None and not (rule.get("kind") == "static" and rule.get("value") is None):
            priority = as_priority(outputs.output(rule, "prioritizationRule"), "prioritizationRule")

        attached: list[JsonObject] = []
        for i, attachment in enumerate(policy.get("workerSelectorAttachments", [])):
            field = f"workerSelectorAttachments[{i}]"
            for raw_selector in _selectors_from(attachment, field, outputs, rng, worker=True):
                try:
                    attached.append(normalize_worker_selector(raw_selector, field))
                except BadRequest as exc:
                    raise ClassificationFailure("InvalidWorkerSelector", exc.message, target=field) from exc
    except RuleFailure as failure:
        raise ClassificationFailure.from_rule(failure) from failure
    return Classification(queue_id=queue_id, priority=priority, attached_worker_selectors=attached)
