"""The event references of stored records: what every job or offer event says about its job or offer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devstack.jobrouter.event_payloads import JobRef, OfferRef
from devstack.jobrouter.store import Record

__all__ = ["job_ref", "offer_ref"]


def job_ref(job: Record) -> JobRef:
    """The job's id, channel, queue, labels and tags as its events carry them."""
    b = job.body
    return JobRef(
        job_id=str(b["id"]),
        channel_reference=b.get("channelReference"),
        channel_id=b.get("channelId"),
        queue_id=b.get("queueId"),
        labels=b.get("labels", {}),
        tags=b.get("tags", {}),
    )


def offer_ref(worker: Record, offer: Mapping[str, Any], job: Record | None) -> OfferRef:
    """The offer's ids (the job's channel and queue when the job still exists)."""
    jb = job.body if job is not None else {}
    return OfferRef(
        worker_id=str(worker.body["id"]),
        job_id=str(offer["jobId"]),
        offer_id=str(offer["offerId"]),
        channel_reference=jb.get("channelReference"),
        channel_id=jb.get("channelId"),
        queue_id=jb.get("queueId"),
    )
