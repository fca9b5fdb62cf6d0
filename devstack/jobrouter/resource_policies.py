"""Validate and normalise the routing policies the way the live service echoes them (pure functions).

Distribution policies (mode, offer expiry, concurrency, scoring options), classification policies
(queue and worker selector attachments, prioritisation rule) and exception policies (triggers, actions).
Each ``normalize_*`` takes the merge-patched writable part of the policy and returns it validated, with
the server-filled defaults the recordings show and keys in the service's order. Anything invalid raises
:class:`BadRequest` naming the field; rules of every kind are checked by
:mod:`~devstack.jobrouter.router_rules` and stored as sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Final

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.resource_fields import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    json_array,
    json_bool,
    json_integer,
    json_number,
    json_object,
    json_primitive,
    json_seconds,
    label_operator,
    nonempty_string,
    normalize_labels,
    normalize_worker_selector,
)
from devstack.jobrouter.router_rules import RulePosition, normalize_rule
from devstack.jobrouter.wire import JsonObject

__all__ = [
    "DEFAULT_SCORING_OPTIONS",
    "DISTRIBUTION_MODES",
    "normalize_classification_policy",
    "normalize_distribution_policy",
    "normalize_exception_policy",
]

DISTRIBUTION_MODES: Final = ("bestWorker", "longestIdle", "roundRobin")
DEFAULT_SCORING_OPTIONS: Final[JsonObject] = {
    "scoringParameters": ["jobLabels", "workerSelectors"],
    "isBatchScoringEnabled": False,
    "descendingOrder": True,
}
_ATTACHMENT_KINDS: Final = ("conditional", "passThrough", "ruleEngine", "static", "weightedAllocation")


# ---------------------------------------------------------------------------------------------- rules


def _rule(value: Any, field: str, purpose: RulePosition) -> JsonObject:
    return normalize_rule(value, field, purpose)


def _attachment(value: Any, field: str, *, worker: bool) -> JsonObject:  # noqa: C901 - one arm per attachment kind
    att = json_object(value, field)
    kind = att.get("kind")
    one, many = ("workerSelector", "workerSelectors") if worker else ("queueSelector", "queueSelectors")
    selector: Callable[[Any, str], JsonObject] = normalize_worker_selector if worker else _queue_selector
    if kind == "static":
        return {"kind": kind, one: selector(att.get(one), f"{field}.{one}")}
    if kind == "conditional":
        return {
            "kind": kind,
            "condition": _rule(att.get("condition"), f"{field}.condition", "condition"),
            many: [
                selector(s, f"{field}.{many}[{i}]") for i, s in enumerate(json_array(att.get(many), many))
            ],
        }
    if kind == "passThrough":
        out: JsonObject = {
            "kind": kind,
            "key": nonempty_string(att.get("key"), f"{field}.key"),
            "labelOperator": label_operator(att.get("labelOperator"), f"{field}.labelOperator"),
        }
        if worker and att.get("expiresAfterSeconds") is not None:
            out["expiresAfterSeconds"] = json_seconds(
                att["expiresAfterSeconds"], f"{field}.expiresAfterSeconds"
            )
        return out
    if kind == "ruleEngine":
        rule = _rule(att.get("rule"), f"{field}.rule", "selectors")
        if rule["kind"] == "static":
            # The service keeps a ruleEngine's static value as sent (no status added); validate a copy.
            for i, s in enumerate(json_array(rule.get("value"), f"{field}.rule.value")):
                selector(s, f"{field}.rule.value[{i}]")
        return {"kind": kind, "rule": rule}
    if kind == "weightedAllocation":
        allocations = []
        for i, alloc in enumerate(json_array(att.get("allocations"), f"{field}.allocations")):
            a = json_object(alloc, f"{field}.allocations[{i}]")
            allocations.append(
                {
                    "weight": json_number(a.get("weight"), f"{field}.allocations[{i}].weight", positive=True),
                    many: [
                        selector(s, f"{field}.allocations[{i}].{many}[{j}]")
                        for j, s in enumerate(json_array(a.get(many), many))
                    ],
                }
            )
        if not allocations:
            raise BadRequest(f"'{field}.allocations' must not be empty")
        return {"kind": kind, "allocations": allocations}
    raise BadRequest(f"'{field}.kind' must be one of {', '.join(_ATTACHMENT_KINDS)}; got {kind!r}")


def _queue_selector(value: Any, field: str) -> JsonObject:
    sel = json_object(value, field)
    out: JsonObject = {
        "key": nonempty_string(sel.get("key"), f"{field}.key"),
        "labelOperator": label_operator(sel.get("labelOperator"), f"{field}.labelOperator"),
    }
    if "value" in sel:
        out["value"] = json_primitive(sel["value"], f"{field}.value")
    return out


# ------------------------------------------------------------------------------------ distribution policy


def _scoring_options(given: Any) -> JsonObject:
    options = dict(DEFAULT_SCORING_OPTIONS)
    if given is None:
        return options
    given = json_object(given, "mode.scoringRuleOptions")
    if given.get("batchSize") is not None:
        options = {"batchSize": json_integer(given["batchSize"], "batchSize", minimum=1), **options}
    if given.get("scoringParameters") is not None:
        params = json_array(given["scoringParameters"], "mode.scoringRuleOptions.scoringParameters")
        bad = [p for p in params if p not in ("jobLabels", "workerSelectors")]
        if bad:
            raise BadRequest(f"scoringParameters values must be jobLabels or workerSelectors: {bad!r}")
        options["scoringParameters"] = list(params)
    for key in ("isBatchScoringEnabled", "descendingOrder"):
        if given.get(key) is not None:
            options[key] = json_bool(given[key], f"mode.scoringRuleOptions.{key}")
    return options


def _mode(value: Any) -> JsonObject:
    mode = json_object(value, "mode")
    kind = mode.get("kind")
    if kind not in DISTRIBUTION_MODES:
        raise BadRequest(f"'mode.kind' must be one of {', '.join(DISTRIBUTION_MODES)}; got {kind!r}")
    out: JsonObject = {"kind": kind}
    if kind == "bestWorker":
        if mode.get("scoringRule") is not None:
            out["scoringRule"] = _rule(mode["scoringRule"], "mode.scoringRule", "scoring")
        out["scoringRuleOptions"] = _scoring_options(mode.get("scoringRuleOptions"))
    minimum = json_integer(mode.get("minConcurrentOffers", 1), "mode.minConcurrentOffers", minimum=1)
    maximum = json_integer(mode.get("maxConcurrentOffers", 1), "mode.maxConcurrentOffers", minimum=1)
    if minimum > maximum:
        raise BadRequest(
            f"'mode.minConcurrentOffers' ({minimum}) exceeds 'mode.maxConcurrentOffers' ({maximum})"
        )
    out["minConcurrentOffers"] = minimum
    out["maxConcurrentOffers"] = maximum
    out["bypassSelectors"] = json_bool(mode.get("bypassSelectors", False), "mode.bypassSelectors")
    return out


def normalize_distribution_policy(body: JsonObject) -> JsonObject:
    """DistributionPolicy: ``min/maxConcurrentOffers`` 1, ``bypassSelectors`` false, scoring options."""
    out: JsonObject = {}
    if body.get("name") is not None:
        out["name"] = json_primitive(body["name"], "name")
    if body.get("offerExpiresAfterSeconds") is not None:
        out["offerExpiresAfterSeconds"] = json_seconds(
            body["offerExpiresAfterSeconds"], "offerExpiresAfterSeconds"
        )
    if body.get("mode") is not None:
        out["mode"] = _mode(body["mode"])
    return out


# ---------------------------------------------------------------------------------- classification policy


def normalize_classification_policy(body: JsonObject) -> JsonObject:
    """ClassificationPolicy: attachments default to ``[]``; rules of every kind are stored as sent."""
    out: JsonObject = {}
    for key in ("name", "fallbackQueueId"):
        if body.get(key) is not None:
            out[key] = nonempty_string(body[key], key)
    out["queueSelectorAttachments"] = [
        _attachment(a, f"queueSelectorAttachments[{i}]", worker=False)
        for i, a in enumerate(
            json_array(body.get("queueSelectorAttachments", []), "queueSelectorAttachments")
        )
    ]
    if body.get("prioritizationRule") is not None:
        out["prioritizationRule"] = _rule(body["prioritizationRule"], "prioritizationRule", "priority")
    out["workerSelectorAttachments"] = [
        _attachment(a, f"workerSelectorAttachments[{i}]", worker=True)
        for i, a in enumerate(
            json_array(body.get("workerSelectorAttachments", []), "workerSelectorAttachments")
        )
    ]
    return out


# --------------------------------------------------------------------------------------- exception policy


def _trigger(value: Any, field: str) -> JsonObject:
    trigger = json_object(value, field)
    kind = trigger.get("kind")
    if kind == "queueLength":
        return {
            "kind": kind,
            "threshold": json_integer(trigger.get("threshold"), f"{field}.threshold", minimum=0),
        }
    if kind == "waitTime":
        seconds = json_seconds(trigger.get("thresholdSeconds"), f"{field}.thresholdSeconds")
        return {"kind": kind, "thresholdSeconds": seconds}
    raise BadRequest(f"'{field}.kind' must be queueLength or waitTime; got {kind!r}")


def _action(value: Any, field: str, new_id: Callable[[], str]) -> JsonObject:
    action = json_object(value, field)
    kind = action.get("kind")
    out: JsonObject = {"kind": kind}
    if kind == "cancel":
        for key in ("note", "dispositionCode"):
            if action.get(key) is not None:
                out[key] = nonempty_string(action[key], f"{field}.{key}")
    elif kind == "manualReclassify":
        if action.get("queueId") is not None:
            out["queueId"] = nonempty_string(action["queueId"], f"{field}.queueId")
        if action.get("priority") is not None:
            out["priority"] = json_integer(
                action["priority"], f"{field}.priority", minimum=MIN_PRIORITY, maximum=MAX_PRIORITY
            )
        selectors = json_array(action.get("workerSelectors", []), f"{field}.workerSelectors")
        out["workerSelectors"] = [
            normalize_worker_selector(s, f"{field}.workerSelectors[{k}]") for k, s in enumerate(selectors)
        ]
    elif kind == "reclassify":
        if action.get("classificationPolicyId") is not None:
            out["classificationPolicyId"] = nonempty_string(
                action["classificationPolicyId"], f"{field}.classificationPolicyId"
            )
        out["labelsToUpsert"] = normalize_labels(action.get("labelsToUpsert", {}), f"{field}.labelsToUpsert")
    else:
        raise BadRequest(f"'{field}.kind' must be cancel, manualReclassify or reclassify; got {kind!r}")
    out["id"] = nonempty_string(action["id"], f"{field}.id") if action.get("id") is not None else new_id()
    return out


def _new_guid() -> str:
    return str(uuid.uuid4())


def normalize_exception_policy(body: JsonObject, *, new_id: Callable[[], str] = _new_guid) -> JsonObject:
    """ExceptionPolicy: actions get server ids; ``workerSelectors``/``labelsToUpsert`` default empty."""
    out: JsonObject = {}
    if body.get("name") is not None:
        out["name"] = nonempty_string(body["name"], "name")
    rules = []
    seen: set[str] = set()
    for i, raw in enumerate(json_array(body.get("exceptionRules", []), "exceptionRules")):
        field = f"exceptionRules[{i}]"
        rule = json_object(raw, field)
        rule_id = nonempty_string(rule.get("id"), f"{field}.id")
        if rule_id in seen:
            raise BadRequest(f"'{field}.id' {rule_id!r} is used by more than one rule")
        seen.add(rule_id)
        actions = json_array(rule.get("actions", []), f"{field}.actions")
        rules.append(
            {
                "id": rule_id,
                "trigger": _trigger(rule.get("trigger"), f"{field}.trigger"),
                "actions": [_action(a, f"{field}.actions[{j}]", new_id) for j, a in enumerate(actions)],
            }
        )
    out["exceptionRules"] = rules
    return out
