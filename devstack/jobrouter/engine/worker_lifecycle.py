"""Workers: created ``inactive``, registered (``availableForOffers``), updated, deregistered, deleted.

Registering starts a new epoch (a decline without ``retryOfferAt`` lasts one epoch) and publishes
RouterWorkerRegistered; deregistering or deleting revokes the worker's open offers. A registered worker
whose capacity, queues, labels, tags or channels change publishes RouterWorkerUpdated naming them. A
worker left idle too long is deregistered by the service itself (:func:`deregister_idle`).
"""

from __future__ import annotations

import logging

from devstack.jobrouter import event_payloads as events
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.offer_lifecycle import revoke
from devstack.jobrouter.engine.worker_state import IDLE_FROM, queue_details, refresh_worker
from devstack.jobrouter.errors import Conflict
from devstack.jobrouter.resource_entities import normalize_worker
from devstack.jobrouter.resources import READ_ONLY, WRITABLE
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, format_time

__all__ = ["delete_worker", "deregister", "deregister_idle", "register", "upsert_worker"]

log = logging.getLogger(__name__)

#: Worker body keys -> the names RouterWorkerUpdated uses for them.
_PROFILE_PROPERTIES = (
    ("capacity", "TotalCapacity"),
    ("queues", "QueueAssignments"),
    ("labels", "Labels"),
    ("tags", "Tags"),
    ("channels", "ChannelConfigurations"),
)


def _profile(ctx: EngineContext, body: JsonObject) -> events.WorkerProfile:
    return events.WorkerProfile(
        worker_id=str(body["id"]),
        queue_assignments=queue_details(ctx, body["queues"]),
        channel_configurations=body["channels"],
        total_capacity=body.get("capacity"),
        labels=body["labels"],
        tags=body["tags"],
    )


def upsert_worker(
    ctx: EngineContext, worker_id: str, merged: JsonObject, patch: JsonObject, existing: Record | None
) -> Record:
    """Create or update a worker; a change of ``availableForOffers`` registers or deregisters it."""
    body = normalize_worker(
        worker_id,
        merged,
        patch=patch,
        created=existing is None,
        previous=existing.body if existing else None,
    )
    if existing is None:
        return _create_worker(ctx, worker_id, body)
    old = existing.body
    was_available = bool(old.get("availableForOffers"))
    changed = [name for key, name in _PROFILE_PROPERTIES if old.get(key) != body.get(key)]
    new_body = {k: v for k, v in old.items() if k in READ_ONLY["workers"] or k not in WRITABLE["workers"]}
    new_body.update(body)
    new_body["availableForOffers"] = was_available
    if "capacity" not in body:
        new_body.pop("capacity", None)
    existing.body = new_body
    if body["availableForOffers"] and not was_available:
        register(ctx, existing)
    elif was_available and not body["availableForOffers"]:
        deregister(ctx, existing)
    elif changed:
        ctx.emit(events.worker_updated(_profile(ctx, existing.body), updated_worker_properties=changed))
    refresh_worker(ctx, existing)
    ctx.request_dispatch()
    return existing


def _create_worker(ctx: EngineContext, worker_id: str, body: JsonObject) -> Record:
    now = ctx.now()
    record = ctx.store.create(
        "workers",
        worker_id,
        {"id": worker_id, "state": "inactive", **body, "offers": [], "assignedJobs": [], "loadRatio": 0},
        now,
    )
    record.internal = {"epoch": 0, "idleSince": format_time(now)}
    record.body["availableForOffers"] = False
    if body["availableForOffers"]:
        register(ctx, record)
    refresh_worker(ctx, record)
    return record


def register(ctx: EngineContext, record: Record) -> None:
    """The worker becomes available for offers (a new epoch) and RouterWorkerRegistered is published."""
    body = record.body
    body["availableForOffers"] = True
    record.internal["epoch"] = int(record.internal.get("epoch", 0)) + 1
    if not body.get("assignedJobs") and not body.get("offers"):
        record.internal["idleSince"] = format_time(ctx.now())
    refresh_worker(ctx, record)
    ctx.emit(events.worker_registered(_profile(ctx, body)))
    ctx.request_dispatch()


def deregister(ctx: EngineContext, record: Record) -> None:
    """The worker stops receiving offers; its open offers are revoked."""
    record.body["availableForOffers"] = False
    for offer in list(record.body.get("offers", [])):
        revoke(ctx, record, offer, reason="workerDeregistered")
    refresh_worker(ctx, record)
    ctx.emit(events.worker_deregistered(worker_id=str(record.body["id"])))
    ctx.request_dispatch()


def deregister_idle(ctx: EngineContext, worker_id: str) -> None:
    """The idle timer fired: a worker still registered and idle is deregistered, as the service does."""
    record = ctx.store.get("workers", worker_id)
    if record is None or IDLE_FROM not in record.internal or not record.body.get("availableForOffers"):
        return
    log.info("worker %s idle since %s: deregistered", worker_id, record.internal[IDLE_FROM])
    deregister(ctx, record)


def delete_worker(ctx: EngineContext, record: Record) -> None:
    """Delete a worker without assigned jobs; its open offers are revoked."""
    worker_id = str(record.body["id"])
    if record.body.get("assignedJobs"):
        raise Conflict(
            f"Worker {worker_id!r} has assigned jobs; close, cancel or unassign them before deleting it."
        )
    for offer in list(record.body.get("offers", [])):
        revoke(ctx, record, offer, reason="workerDeleted")
    ctx.store.delete("workers", worker_id)
    ctx.emit(events.worker_deleted(worker_id=worker_id))
    ctx.request_dispatch()
