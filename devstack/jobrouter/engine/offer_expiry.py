"""Offer expiry: an offer not answered within the policy's ``offerExpiresAfterSeconds`` expires.

The service then deregisters the worker (it is presumed gone) after publishing RouterWorkerOfferExpired;
the job's other offers stand and matching carries on with the remaining workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devstack.jobrouter import event_payloads as events
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.offer_lifecycle import find_offer, take_offer
from devstack.jobrouter.engine.record_refs import offer_ref
from devstack.jobrouter.engine.worker_lifecycle import deregister
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import parse_time

__all__ = ["arm_offer_expiry", "expire_offer"]


def arm_offer_expiry(ctx: EngineContext, worker: Record, offer: Mapping[str, Any]) -> None:
    """Arm the timer that expires the offer at its ``expiresAt``."""
    worker_id, offer_id = str(worker.body["id"]), str(offer["offerId"])
    ctx.timers.at(
        ("offer", offer_id),
        parse_time(offer["expiresAt"], field="expiresAt"),
        lambda: expire_offer(ctx, worker_id, offer_id),
    )


def expire_offer(ctx: EngineContext, worker_id: str, offer_id: str) -> None:
    """The offer's time is up: take it back, publish OfferExpired and deregister the worker."""
    worker = ctx.store.get("workers", worker_id)
    if worker is None:
        return
    offer = find_offer(worker, offer_id)
    if offer is None:
        return
    job = take_offer(ctx, worker, offer)
    ctx.emit(events.offer_expired(offer_ref(worker, offer, job)))
    if worker.body.get("availableForOffers"):
        deregister(ctx, worker)
    ctx.request_dispatch()
