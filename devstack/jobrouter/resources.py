"""Validate and normalise resource bodies the way the live service echoes them (pure functions).

Each ``normalize_*`` takes the merge-patched *writable* part of a resource (a JSON object) and returns it
validated, with the server-filled defaults the recordings show (``bypassSelectors``, default
``scoringRuleOptions``, ``expedite``/``status`` on selectors, action ids, empty collections) and with keys
in the service's order. Anything invalid raises :class:`BadRequest` naming the field; rules of every kind
are checked by :mod:`devstack.jobrouter.router_rules`. Nothing here reads the clock except through the
``now`` argument.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.router_rules import RulePosition, normalize_rule
from devstack.jobrouter.wire import JsonObject, format_time, normalize_numbers, ordered, parse_time

__all__ = [
    "DISTRIBUTION_MODES",
    "LABEL_OPERATORS",
    "READ_ONLY",
    "WRITABLE",
    "check_patch_fields",
    "normalize_classification_policy",
    "normalize_distribution_policy",
    "normalize_exception_policy",
    "normalize_job",
    "normalize_labels",
    "normalize_queue",
    "normalize_worker",
    "normalize_worker_selector",
    "writable_part",
]

LABEL_OPERATORS: Final = {
    op.lower(): op
    for op in ("equal", "notEqual", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual")
}
DISTRIBUTION_MODES: Final = ("bestWorker", "longestIdle", "roundRobin")
DEFAULT_SCORING_OPTIONS: Final[JsonObject] = {
    "scoringParameters": ["jobLabels", "workerSelectors"],
    "isBatchScoringEnabled": False,
    "descendingOrder": True,
}
_ATTACHMENT_KINDS: Final = ("conditional", "passThrough", "ruleEngine", "static", "weightedAllocation")

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


# ------------------------------------------------------------------------------------------ primitives


def _obj(value: Any, field: str) -> JsonObject:
    if not isinstance(value, dict):
        raise BadRequest(f"'{field}' must be a JSON object, got {_kind_of(value)}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequest(f"'{field}' must be a JSON array, got {_kind_of(value)}")
    return value


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"'{field}' must be a non-empty string, got {value!r}")
    return value


def _int(value: Any, field: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
        raise BadRequest(f"'{field}' must be an integer, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise BadRequest(f"'{field}' must be at least {minimum}, got {number}")
    return number


def _number(value: Any, field: str, *, positive: bool = False) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"'{field}' must be a number, got {value!r}")
    if positive and value <= 0:
        raise BadRequest(f"'{field}' must be greater than 0, got {value!r}")
    result: int | float = normalize_numbers(value)
    return result


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"'{field}' must be true or false, got {value!r}")
    return value


def _kind_of(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def _primitive(value: Any, field: str) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return normalize_numbers(value)
    raise BadRequest(f"'{field}' must be a string, number or boolean, got {_kind_of(value)}")


def normalize_labels(value: Any, field: str) -> JsonObject:
    """A labels/tags map: string keys, primitive values (nulls were removed by merge-patch)."""
    labels = _obj(value, field)
    return {str(k): _primitive(v, f"{field}.{k}") for k, v in labels.items() if v is not None}


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


def _operator(value: Any, field: str) -> str:
    op = LABEL_OPERATORS.get(str(value).lower()) if isinstance(value, str) else None
    if op is None:
        raise BadRequest(f"'{field}' must be one of {', '.join(LABEL_OPERATORS.values())}, got {value!r}")
    return op


# ------------------------------------------------------------------------------------------- selectors


def normalize_worker_selector(value: Any, field: str) -> JsonObject:
    """A RouterWorkerSelector as the service echoes it (``expedite``/``status`` filled, keys reordered).

    ``status`` and ``expiresAt`` are read-only; callers that track expiry set them afterwards.
    """
    sel = _obj(value, field)
    out: JsonObject = {}
    if sel.get("expiresAfterSeconds") is not None:
        out["expiresAfterSeconds"] = _number(
            sel["expiresAfterSeconds"], f"{field}.expiresAfterSeconds", positive=True
        )
    out["expedite"] = _bool(sel.get("expedite", False), f"{field}.expedite")
    out["status"] = "active"
    out["key"] = _str(sel.get("key"), f"{field}.key")
    out["labelOperator"] = _operator(sel.get("labelOperator"), f"{field}.labelOperator")
    if "value" in sel:
        out["value"] = _primitive(sel["value"], f"{field}.value")
    return out


def _queue_selector(value: Any, field: str) -> JsonObject:
    sel = _obj(value, field)
    out: JsonObject = {
        "key": _str(sel.get("key"), f"{field}.key"),
        "labelOperator": _operator(sel.get("labelOperator"), f"{field}.labelOperator"),
    }
    if "value" in sel:
        out["value"] = _primitive(sel["value"], f"{field}.value")
    return out


# ---------------------------------------------------------------------------------------------- rules


def _rule(value: Any, field: str, purpose: RulePosition) -> JsonObject:
    return normalize_rule(value, field, purpose)


def _attachment(value: Any, field: str, *, worker: bool) -> JsonObject:
    att = _obj(value, field)
    kind = att.get("kind")
    one, many = ("workerSelector", "workerSelectors") if worker else ("queueSelector", "queueSelectors")
    selector: Callable[[Any, str], JsonObject] = normalize_worker_selector if worker else _queue_selector
    if kind == "static":
        return {"kind": kind, one: selector(att.get(one), f"{field}.{one}")}
    if kind == "conditional":
        return {
            "kind": kind,
            "condition": _rule(att.get("condition"), f"{field}.condition", "condition"),
            many: [selector(s, f"{field}.{many}[{i}]") for i, s in enumerate(_list(att.get(many), many))],
        }
    if kind == "passThrough":
        out: JsonObject = {
            "kind": kind,
            "key": _str(att.get("key"), f"{field}.key"),
            "labelOperator": _operator(att.get("labelOperator"), f"{field}.labelOperator"),
        }
        if worker and att.get("expiresAfterSeconds") is not None:
            out["expiresAfterSeconds"] = _number(
                att["expiresAfterSeconds"], f"{field}.expiresAfterSeconds", positive=True
            )
        return out
    if kind == "ruleEngine":
        rule = _rule(att.get("rule"), f"{field}.rule", "selectors")
        if rule["kind"] == "static":
            # The service keeps a ruleEngine's static value as sent (no status added); validate a copy.
            for i, s in enumerate(_list(rule.get("value"), f"{field}.rule.value")):
                selector(s, f"{field}.rule.value[{i}]")
        return {"kind": kind, "rule": rule}
    if kind == "weightedAllocation":
        allocations = []
        for i, alloc in enumerate(_list(att.get("allocations"), f"{field}.allocations")):
            a = _obj(alloc, f"{field}.allocations[{i}]")
            allocations.append(
                {
                    "weight": _number(a.get("weight"), f"{field}.allocations[{i}].weight", positive=True),
                    many: [
                        selector(s, f"{field}.allocations[{i}].{many}[{j}]")
                        for j, s in enumerate(_list(a.get(many), many))
                    ],
                }
            )
        if not allocations:
            raise BadRequest(f"'{field}.allocations' must not be empty")
        return {"kind": kind, "allocations": allocations}
    raise BadRequest(f"'{field}.kind' must be one of {', '.join(_ATTACHMENT_KINDS)}; got {kind!r}")


# ---------------------------------------------------------------------------------------- the resources


def _scoring_options(given: Any) -> JsonObject:
    options = dict(DEFAULT_SCORING_OPTIONS)
    if given is None:
        return options
    given = _obj(given, "mode.scoringRuleOptions")
    if given.get("batchSize") is not None:
        options = {"batchSize": _int(given["batchSize"], "batchSize", minimum=1), **options}
    if given.get("scoringParameters") is not None:
        params = _list(given["scoringParameters"], "mode.scoringRuleOptions.scoringParameters")
        bad = [p for p in params if p not in ("jobLabels", "workerSelectors")]
        if bad:
            raise BadRequest(f"scoringParameters values must be jobLabels or workerSelectors: {bad!r}")
        options["scoringParameters"] = list(params)
    for key in ("isBatchScoringEnabled", "descendingOrder"):
        if given.get(key) is not None:
            options[key] = _bool(given[key], f"mode.scoringRuleOptions.{key}")
    return options


def _mode(value: Any) -> JsonObject:
    mode = _obj(value, "mode")
    kind = mode.get("kind")
    if kind not in DISTRIBUTION_MODES:
        raise BadRequest(f"'mode.kind' must be one of {', '.join(DISTRIBUTION_MODES)}; got {kind!r}")
    out: JsonObject = {"kind": kind}
    if kind == "bestWorker":
        if mode.get("scoringRule") is not None:
            out["scoringRule"] = _rule(mode["scoringRule"], "mode.scoringRule", "scoring")
        out["scoringRuleOptions"] = _scoring_options(mode.get("scoringRuleOptions"))
    minimum = _int(mode.get("minConcurrentOffers", 1), "mode.minConcurrentOffers", minimum=1)
    maximum = _int(mode.get("maxConcurrentOffers", 1), "mode.maxConcurrentOffers", minimum=1)
    if minimum > maximum:
        raise BadRequest(
            f"'mode.minConcurrentOffers' ({minimum}) exceeds 'mode.maxConcurrentOffers' ({maximum})"
        )
    out["minConcurrentOffers"] = minimum
    out["maxConcurrentOffers"] = maximum
    out["bypassSelectors"] = _bool(mode.get("bypassSelectors", False), "mode.bypassSelectors")
    return out


def normalize_distribution_policy(body: JsonObject) -> JsonObject:
    """DistributionPolicy: ``min/maxConcurrentOffers`` 1, ``bypassSelectors`` false, scoring options."""
    out: JsonObject = {}
    if body.get("name") is not None:
        out["name"] = _primitive(body["name"], "name")
    if body.get("offerExpiresAfterSeconds") is not None:
        out["offerExpiresAfterSeconds"] = _number(
            body["offerExpiresAfterSeconds"], "offerExpiresAfterSeconds", positive=True
        )
    if body.get("mode") is not None:
        out["mode"] = _mode(body["mode"])
    return out


def _labels_with_id(resource_id: str, merged: Any, patch_labels: Any, *, created: bool) -> JsonObject:
    """The ``Id`` label as the recordings show it: appended on create, first after a PATCH that omits it."""
    labels = normalize_labels(merged if merged is not None else {}, "labels")
    sent_id = isinstance(patch_labels, dict) and "Id" in patch_labels
    labels.pop("Id", None)
    if created or sent_id:
        if sent_id and isinstance(patch_labels, dict):
            # keep the client's position for Id
            result: JsonObject = {}
            for key in patch_labels:
                if key == "Id":
                    result["Id"] = resource_id
                elif key in labels:
                    result[key] = labels[key]
            for key, value in labels.items():
                result.setdefault(key, value)
            return result
        return {**labels, "Id": resource_id}
    if patch_labels is None:
        return {**labels, "Id": resource_id}
    return {"Id": resource_id, **labels}


def _resource_labels(
    resource_id: str,
    body: JsonObject,
    patch: Mapping[str, Any],
    *,
    created: bool,
    previous: JsonObject | None,
) -> JsonObject:
    """Queue/worker labels after an upsert; labels that did not change keep their stored order (recorded)."""
    old = previous.get("labels") if previous is not None else None
    if not created and old is not None and "labels" not in patch:
        return dict(old)
    new = _labels_with_id(resource_id, body.get("labels"), patch.get("labels"), created=created)
    return dict(old) if old is not None and new == old else new


def normalize_queue(
    resource_id: str,
    body: JsonObject,
    *,
    patch: Mapping[str, Any],
    created: bool,
    previous: JsonObject | None,
) -> JsonObject:
    """RouterQueue: adds the ``Id`` label."""
    out: JsonObject = {}
    for key in ("name", "distributionPolicyId"):
        if body.get(key) is not None:
            out[key] = _str(body[key], key)
    out["labels"] = _resource_labels(resource_id, body, patch, created=created, previous=previous)
    if body.get("exceptionPolicyId") is not None:
        out["exceptionPolicyId"] = _str(body["exceptionPolicyId"], "exceptionPolicyId")
    return out


def normalize_classification_policy(body: JsonObject) -> JsonObject:
    """ClassificationPolicy: attachments default to ``[]``; rules of every kind are stored as sent."""
    out: JsonObject = {}
    for key in ("name", "fallbackQueueId"):
        if body.get(key) is not None:
            out[key] = _str(body[key], key)
    out["queueSelectorAttachments"] = [
        _attachment(a, f"queueSelectorAttachments[{i}]", worker=False)
        for i, a in enumerate(_list(body.get("queueSelectorAttachments", []), "queueSelectorAttachments"))
    ]
    if body.get("prioritizationRule") is not None:
        out["prioritizationRule"] = _rule(body["prioritizationRule"], "prioritizationRule", "priority")
    out["workerSelectorAttachments"] = [
        _attachment(a, f"workerSelectorAttachments[{i}]", worker=True)
        for i, a in enumerate(_list(body.get("workerSelectorAttachments", []), "workerSelectorAttachments"))
    ]
    return out


def _trigger(value: Any, field: str) -> JsonObject:
    trigger = _obj(value, field)
    kind = trigger.get("kind")
    if kind == "queueLength":
        return {"kind": kind, "threshold": _int(trigger.get("threshold"), f"{field}.threshold", minimum=0)}
    if kind == "waitTime":
        seconds = _number(trigger.get("thresholdSeconds"), f"{field}.thresholdSeconds", positive=True)
        return {"kind": kind, "thresholdSeconds": seconds}
    raise BadRequest(f"'{field}.kind' must be queueLength or waitTime; got {kind!r}")


def _action(value: Any, field: str, new_id: Callable[[], str]) -> JsonObject:
    action = _obj(value, field)
    kind = action.get("kind")
    out: JsonObject = {"kind": kind}
    if kind == "cancel":
        for key in ("note", "dispositionCode"):
            if action.get(key) is not None:
                out[key] = _str(action[key], f"{field}.{key}")
    elif kind == "manualReclassify":
        if action.get("queueId") is not None:
            out["queueId"] = _str(action["queueId"], f"{field}.queueId")
        if action.get("priority") is not None:
            out["priority"] = _int(action["priority"], f"{field}.priority")
        selectors = _list(action.get("workerSelectors", []), f"{field}.workerSelectors")
        out["workerSelectors"] = [
            normalize_worker_selector(s, f"{field}.workerSelectors[{k}]") for k, s in enumerate(selectors)
        ]
    elif kind == "reclassify":
        if action.get("classificationPolicyId") is not None:
            out["classificationPolicyId"] = _str(
                action["classificationPolicyId"], f"{field}.classificationPolicyId"
            )
        out["labelsToUpsert"] = normalize_labels(action.get("labelsToUpsert", {}), f"{field}.labelsToUpsert")
    else:
        raise BadRequest(f"'{field}.kind' must be cancel, manualReclassify or reclassify; got {kind!r}")
    out["id"] = _str(action["id"], f"{field}.id") if action.get("id") is not None else new_id()
    return out


def _new_guid() -> str:
    return str(uuid.uuid4())


def normalize_exception_policy(body: JsonObject, *, new_id: Callable[[], str] = _new_guid) -> JsonObject:
    """ExceptionPolicy: actions get server ids; ``workerSelectors``/``labelsToUpsert`` default empty."""
    out: JsonObject = {}
    if body.get("name") is not None:
        out["name"] = _str(body["name"], "name")
    rules = []
    seen: set[str] = set()
    for i, raw in enumerate(_list(body.get("exceptionRules", []), "exceptionRules")):
        field = f"exceptionRules[{i}]"
        rule = _obj(raw, field)
        rule_id = _str(rule.get("id"), f"{field}.id")
        if rule_id in seen:
            raise BadRequest(f"'{field}.id' {rule_id!r} is used by more than one rule")
        seen.add(rule_id)
        actions = _list(rule.get("actions", []), f"{field}.actions")
        rules.append(
            {
                "id": rule_id,
                "trigger": _trigger(rule.get("trigger"), f"{field}.trigger"),
                "actions": [_action(a, f"{field}.actions[{j}]", new_id) for j, a in enumerate(actions)],
            }
        )
    out["exceptionRules"] = rules
    return out


def normalize_worker(
    resource_id: str,
    body: JsonObject,
    *,
    patch: Mapping[str, Any],
    created: bool,
    previous: JsonObject | None,
) -> JsonObject:
    """A RouterWorker's writable part, with the ``Id`` label and ``tags``/``queues``/``channels`` defaults."""
    out: JsonObject = {}
    queues = _list(body.get("queues", []), "queues")
    out["queues"] = [_str(q, f"queues[{i}]") for i, q in enumerate(queues)]
    if body.get("capacity") is not None:
        out["capacity"] = _int(body["capacity"], "capacity", minimum=0)
    out["labels"] = _resource_labels(resource_id, body, patch, created=created, previous=previous)
    out["tags"] = normalize_labels(body.get("tags", {}), "tags")
    channels = []
    seen: set[str] = set()
    for i, raw in enumerate(_list(body.get("channels", []), "channels")):
        ch = _obj(raw, f"channels[{i}]")
        channel_id = _str(ch.get("channelId"), f"channels[{i}].channelId")
        if channel_id in seen:
            raise BadRequest(f"'channels[{i}].channelId' {channel_id!r} is listed twice")
        seen.add(channel_id)
        c: JsonObject = {
            "channelId": channel_id,
            "capacityCostPerJob": _int(
                ch.get("capacityCostPerJob"), f"channels[{i}].capacityCostPerJob", minimum=0
            ),
        }
        if ch.get("maxNumberOfJobs") is not None:
            c["maxNumberOfJobs"] = _int(ch["maxNumberOfJobs"], f"channels[{i}].maxNumberOfJobs", minimum=1)
        channels.append(c)
    out["channels"] = channels
    out["availableForOffers"] = _bool(body.get("availableForOffers", False), "availableForOffers")
    return out


def normalize_job(body: JsonObject, *, created: bool, now: datetime) -> JsonObject:
    """A RouterJob's writable part with the recorded defaults (priority 1, empty lists, queueAndMatch)."""
    out: JsonObject = {}
    for key in ("channelReference", "channelId", "classificationPolicyId", "queueId", "dispositionCode"):
        if body.get(key) is not None:
            out[key] = _str(body[key], key)
    if created and "channelId" not in out:
        raise BadRequest("'channelId' is required when creating a job")
    if created and "queueId" not in out and "classificationPolicyId" not in out:
        raise BadRequest("a job needs a 'queueId' or a 'classificationPolicyId'")
    out["priority"] = _int(body.get("priority", 1), "priority")
    out["requestedWorkerSelectors"] = [
        normalize_worker_selector(s, f"requestedWorkerSelectors[{i}]")
        for i, s in enumerate(_list(body.get("requestedWorkerSelectors", []), "requestedWorkerSelectors"))
    ]
    out["labels"] = normalize_labels(body.get("labels", {}), "labels")
    out["tags"] = normalize_labels(body.get("tags", {}), "tags")
    notes = []
    for i, raw in enumerate(_list(body.get("notes", []), "notes")):
        note = _obj(raw, f"notes[{i}]")
        added = note.get("addedAt")
        notes.append(
            {
                "message": _str(note.get("message"), f"notes[{i}].message"),
                "addedAt": format_time(parse_time(added, field=f"notes[{i}].addedAt") if added else now),
            }
        )
    out["notes"] = notes
    mode = _obj(body.get("matchingMode", {"kind": "queueAndMatch"}), "matchingMode")
    kind = mode.get("kind")
    if kind in ("queueAndMatch", "suspend"):
        out["matchingMode"] = {"kind": kind}
    elif kind == "scheduleAndSuspend":
        at = parse_time(mode.get("scheduleAt"), field="matchingMode.scheduleAt")
        out["matchingMode"] = {"kind": kind, "scheduleAt": format_time(at)}
    else:
        raise BadRequest(
            f"'matchingMode.kind' must be queueAndMatch, scheduleAndSuspend or suspend; got {kind!r}"
        )
    return out


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
