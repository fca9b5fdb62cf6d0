"""Validate and normalise queues, workers and jobs the way the live service echoes them (pure functions).

Each ``normalize_*`` takes the merge-patched writable part of the resource and returns it validated, with
the server-filled defaults the recordings show (the ``Id`` label on queues and workers, ``tags``/``queues``/
``channels`` defaults, job ``priority`` 1, ``queueAndMatch``, empty lists) and keys in the service's order.
Anything invalid raises :class:`BadRequest` naming the field. Nothing here reads the clock except
through the ``now`` argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.resource_fields import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    json_array,
    json_bool,
    json_integer,
    json_object,
    nonempty_string,
    normalize_labels,
    normalize_worker_selector,
)
from devstack.jobrouter.wire import JsonObject, format_time, parse_time

__all__ = ["normalize_job", "normalize_queue", "normalize_worker"]


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
            out[key] = nonempty_string(body[key], key)
    out["labels"] = _resource_labels(resource_id, body, patch, created=created, previous=previous)
    if body.get("exceptionPolicyId") is not None:
        out["exceptionPolicyId"] = nonempty_string(body["exceptionPolicyId"], "exceptionPolicyId")
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
    queues = json_array(body.get("queues", []), "queues")
    out["queues"] = [nonempty_string(q, f"queues[{i}]") for i, q in enumerate(queues)]
    if body.get("capacity") is not None:
        out["capacity"] = json_integer(body["capacity"], "capacity", minimum=0)
    out["labels"] = _resource_labels(resource_id, body, patch, created=created, previous=previous)
    out["tags"] = normalize_labels(body.get("tags", {}), "tags")
    channels = []
    seen: set[str] = set()
    for i, raw in enumerate(json_array(body.get("channels", []), "channels")):
        ch = json_object(raw, f"channels[{i}]")
        channel_id = nonempty_string(ch.get("channelId"), f"channels[{i}].channelId")
        if channel_id in seen:
            raise BadRequest(f"'channels[{i}].channelId' {channel_id!r} is listed twice")
        seen.add(channel_id)
        c: JsonObject = {
            "channelId": channel_id,
            "capacityCostPerJob": json_integer(
                ch.get("capacityCostPerJob"), f"channels[{i}].capacityCostPerJob", minimum=0
            ),
        }
        if ch.get("maxNumberOfJobs") is not None:
            c["maxNumberOfJobs"] = json_integer(
                ch["maxNumberOfJobs"], f"channels[{i}].maxNumberOfJobs", minimum=1
            )
        channels.append(c)
    out["channels"] = channels
    out["availableForOffers"] = json_bool(body.get("availableForOffers", False), "availableForOffers")
    return out


def normalize_job(body: JsonObject, *, created: bool, now: datetime) -> JsonObject:
    """A RouterJob's writable part with the recorded defaults (priority 1, empty lists, queueAndMatch)."""
    out: JsonObject = {}
    for key in ("channelReference", "channelId", "classificationPolicyId", "queueId", "dispositionCode"):
        if body.get(key) is not None:
            out[key] = nonempty_string(body[key], key)
    if created and "channelId" not in out:
        raise BadRequest("'channelId' is required when creating a job")
    if created and "queueId" not in out and "classificationPolicyId" not in out:
        raise BadRequest("a job needs a 'queueId' or a 'classificationPolicyId'")
    out["priority"] = json_integer(
        body.get("priority", 1), "priority", minimum=MIN_PRIORITY, maximum=MAX_PRIORITY
    )
    out["requestedWorkerSelectors"] = [
        normalize_worker_selector(s, f"requestedWorkerSelectors[{i}]")
        for i, s in enumerate(
            json_array(body.get("requestedWorkerSelectors", []), "requestedWorkerSelectors")
        )
    ]
    out["labels"] = normalize_labels(body.get("labels", {}), "labels")
    out["tags"] = normalize_labels(body.get("tags", {}), "tags")
    notes = []
    for i, raw in enumerate(json_array(body.get("notes", []), "notes")):
        note = json_object(raw, f"notes[{i}]")
        added = note.get("addedAt")
        notes.append(
            {
                "message": nonempty_string(note.get("message"), f"notes[{i}].message"),
                "addedAt": format_time(parse_time(added, field=f"notes[{i}].addedAt") if added else now),
            }
        )
    out["notes"] = notes
    mode = json_object(body.get("matchingMode", {"kind": "queueAndMatch"}), "matchingMode")
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
