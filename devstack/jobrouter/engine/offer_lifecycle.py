"""Offers: issued to a worker for a job, then taken back (revoked), declined, or (elsewhere) accepted/expired.

An open offer lives in the worker's ``offers`` (it holds capacity there) and in the job's internal
``offers`` map (offer id -> worker id). A decline without ``retryOfferAt`` stands until the worker
registers again (its epoch changes); with it, the worker may be offered the job again from that time.
Accepting is in :mod:`.assignment_lifecycle` (it creates the assignment); expiry in :mod:`.offer_expiry`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from devstack.jobrouter import event_payloads as events
from devstack.jobrouter.eligibility import worker_channel
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.record_refs import offer_ref
from devstack.jobrouter.engine.worker_state import refresh_worker
from devstack.jobrouter.errors import Conflict, NotFound
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject, format_time, parse_time

__all__ = [
    "decline_offer",
    "find_offer",
    "issue_offer",
    "offer_or_error",
    "record_wait",
    "retry_due",
    "revoke",
    "take_offer",
]

#: How many revoked offers are remembered (to answer a late accept with 409 rather than 404).
REVOKED_MEMORY: Final = 10_000


def find_offer(worker: Record, offer_id: str) -> JsonObject | None:
    """The worker's open offer with this id, or None."""
    for offer in worker.body.get("offers", []):
        if offer.get("offerId") == offer_id:
            return offer  # type: ignore[no-any-return]
    return None


def issue_offer(ctx: EngineContext, job: Record, worker: Record, policy: Record, now: datetime) -> JsonObject:
    """Offer the job to the worker (holding the channel's capacity cost) and publish OfferIssued."""
    channel = worker_channel(worker.body, job.body.get("channelId"))
    assert channel is not None
    seconds = float(policy.body.get("offerExpiresAfterSeconds", ctx.default_offer_expiry_seconds))
    expires = now + timedelta(seconds=seconds)
    offer: JsonObject = {
        "offerId": str(uuid.uuid4()),
        "jobId": str(job.body["id"]),
        "capacityCost": int(channel.get("capacityCostPerJob", 0)),
        "offeredAt": format_time(now),
        "expiresAt": format_time(expires),
    }
    worker.body.setdefault("offers", []).append(offer)
    job.internal.setdefault("offers", {})[offer["offerId"]] = str(worker.body["id"])
    refresh_worker(ctx, worker)
    ctx.store.touch("jobs", str(job.body["id"]), now, changed=False)
    ctx.emit(
        events.offer_issued(
            offer_ref(worker, offer, job),
            job_priority=job.body.get("priority"),
            offered_on=now,
            expires_on=expires,
            job_labels=job.body.get("labels", {}),
            job_tags=job.body.get("tags", {}),
            worker_labels=worker.body.get("labels", {}),
            worker_tags=worker.body.get("tags", {}),
        )
    )
    return offer


def take_offer(ctx: EngineContext, worker: Record, offer: Mapping[str, Any]) -> Record | None:
    """Remove an offer from the worker and its job; returns the job (if it still exists)."""
    offer_id = str(offer["offerId"])
    worker.body["offers"] = [o for o in worker.body.get("offers", []) if o.get("offerId") != offer_id]
    ctx.timers.cancel(("offer", offer_id))
    job = ctx.store.get("jobs", str(offer["jobId"]))
    if job is not None:
        job.internal.setdefault("offers", {}).pop(offer_id, None)
        ctx.store.touch("jobs", str(job.body["id"]), ctx.now(), changed=False)
    refresh_worker(ctx, worker)
    return job


def revoke(ctx: EngineContext, worker: Record, offer: Mapping[str, Any], *, reason: str) -> None:
    """Take the offer back (remembering why, for a late accept) and publish OfferRevoked."""
    job = take_offer(ctx, worker, offer)
    revoked = ctx.store.meta_dict("revokedOffers")
    revoked[str(offer["offerId"])] = {
        "workerId": str(worker.body["id"]),
        "jobId": str(offer["jobId"]),
        "reason": reason,
    }
    while len(revoked) > REVOKED_MEMORY:
        revoked.pop(next(iter(revoked)))
    ctx.emit(events.offer_revoked(offer_ref(worker, offer, job)))


def offer_or_error(
    ctx: EngineContext, worker_id: str, offer_id: str, handler: str
) -> tuple[Record, JsonObject]:
    """The open offer, or the service's error: 409 if another worker's accept revoked it, else 404."""
    worker = ctx.store.get("workers", worker_id)
    offer = find_offer(worker, offer_id) if worker is not None else None
    if worker is None or offer is None:
        revoked = ctx.store.meta.get("revokedOffers", {}).get(offer_id)
        if (
            handler == "AcceptOfferCommandHandler"
            and revoked is not None
            and revoked.get("workerId") == worker_id
            and revoked.get("reason") == "acceptedByAnotherWorker"
        ):
            raise Conflict(
                f"{handler}: Job already assigned to another worker. "
                f"OfferId: {offer_id}, WorkerId: {worker_id}, "
                f"JobId: {revoked.get('jobId')}"
            )
        raise NotFound(f"{handler}: Offer not found. OfferId: {offer_id}, WorkerId: {worker_id}")
    return worker, offer


def decline_offer(ctx: EngineContext, worker_id: str, offer_id: str, retry_offer_at: datetime | None) -> None:
    """Decline an offer.

    With ``retryOfferAt`` the worker may get the job again from then; without, never (until it re-registers).
    """
    worker, offer = offer_or_error(ctx, worker_id, offer_id, "DeclineOfferCommandHandler")
    job = take_offer(ctx, worker, offer)
    ctx.emit(events.offer_declined(offer_ref(worker, offer, job)))
    if job is not None:
        job_id = str(job.body["id"])
        if retry_offer_at is not None:
            job.internal.setdefault("retryAt", {})[worker_id] = format_time(retry_offer_at)
            ctx.timers.at(
                ("retry", job_id, worker_id), retry_offer_at, lambda: retry_due(ctx, job_id, worker_id)
            )
        else:
            job.internal.setdefault("declined", {})[worker_id] = worker.internal.get("epoch")
        ctx.store.touch("jobs", job_id, ctx.now(), changed=False)
    ctx.request_dispatch()


def retry_due(ctx: EngineContext, job_id: str, worker_id: str) -> None:
    """A declined offer's ``retryOfferAt`` has come: the worker may be offered the job again."""
    job = ctx.store.get("jobs", job_id)
    if job is not None:
        job.internal.get("retryAt", {}).pop(worker_id, None)
        ctx.store.touch("jobs", job_id, ctx.now(), changed=False)
    ctx.request_dispatch()


def record_wait(ctx: EngineContext, job: Record, now: datetime) -> None:
    """Remember time-in-queue per queue and priority, for queue statistics."""
    enqueued = job.body.get("enqueuedAt")
    if not enqueued:
        return
    minutes = (now - parse_time(enqueued, field="enqueuedAt")).total_seconds() / 60.0
    waits = ctx.store.meta_dict("waits")
    key = f"{job.body.get('queueId')}|{job.body.get('priority', 1)}"
    total, count = waits.get(key, [0.0, 0])
    waits[key] = [float(total) + minutes, int(count) + 1]
