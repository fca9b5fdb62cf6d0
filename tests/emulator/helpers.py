"""Helpers for the emulator specs: SDK clients, the plain admin HTTP call, waits for offers and job and
worker states, an SDK error's response text, and small setup steps."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, Protocol, Self

from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    DistributionMode,
    DistributionPolicy,
    LongestIdleMode,
    RouterChannel,
    RouterJob,
    RouterJobOffer,
    RouterQueue,
    RouterWorker,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineResponse

from devstack.polling import wait_until


class HasEndpoint(Protocol):
    @property
    def endpoint(self) -> str: ...

    @property
    def access_key(self) -> str: ...


# The SDK annotates ``__enter__`` with its generated base class, so ``with JobRouterClient(...) as client``
# types ``client`` as that base, which the helpers below (typed for the public class) do not accept. These
# two change nothing else: the base's ``__enter__`` already returns the client itself.


class RouterClient(JobRouterClient):
    """The SDK's ``JobRouterClient``; ``with`` gives it back typed as itself."""

    def __enter__(self) -> Self:
        super().__enter__()
        return self


class AdminClient(JobRouterAdministrationClient):
    """The SDK's ``JobRouterAdministrationClient``; ``with`` gives it back typed as itself."""

    def __enter__(self) -> Self:
        super().__enter__()
        return self


def router_client(emu: HasEndpoint, *, key: str | None = None, **kwargs: Any) -> RouterClient:
    """``JobRouterClient(http endpoint, AzureKeyCredential)``; no retries unless given."""
    kwargs.setdefault("retry_total", 0)
    return RouterClient(emu.endpoint, AzureKeyCredential(key or emu.access_key), **kwargs)


def admin_client(emu: HasEndpoint, *, key: str | None = None, **kwargs: Any) -> AdminClient:
    """``JobRouterAdministrationClient(http endpoint, AzureKeyCredential)``; no retries unless given."""
    kwargs.setdefault("retry_total", 0)
    return AdminClient(emu.endpoint, AzureKeyCredential(key or emu.access_key), **kwargs)


def setup_queue(
    admin: JobRouterAdministrationClient,
    *,
    queue_id: str = "q",
    policy_id: str = "dp",
    mode: DistributionMode | None = None,
    offer_expires_after_seconds: float = 60.0,
    labels: dict[str, Any] | None = None,
    exception_policy_id: str | None = None,
) -> None:
    """A distribution policy and a queue that uses it."""
    admin.upsert_distribution_policy(
        policy_id,
        DistributionPolicy(
            offer_expires_after_seconds=offer_expires_after_seconds,
            mode=mode or LongestIdleMode(min_concurrent_offers=1, max_concurrent_offers=1),
        ),
    )
    admin.upsert_queue(
        queue_id,
        RouterQueue(distribution_policy_id=policy_id, labels=labels, exception_policy_id=exception_policy_id),
    )


def add_worker(
    client: JobRouterClient,
    worker_id: str,
    *,
    queues: Sequence[str] = ("q",),
    capacity: int = 1,
    channels: Sequence[tuple[str, int] | tuple[str, int, int]] = (("voice", 1),),
    labels: dict[str, Any] | None = None,
    available: bool = True,
) -> RouterWorker:
    """A worker on ``queues`` with ``(channelId, cost[, maxNumberOfJobs])`` channels."""
    return client.upsert_worker(
        worker_id,
        RouterWorker(
            queues=list(queues),
            capacity=capacity,
            channels=[
                RouterChannel(
                    channel_id=c[0],
                    capacity_cost_per_job=c[1],
                    max_number_of_jobs=c[2] if len(c) > 2 else None,
                )
                for c in channels
            ],
            labels=labels,
            available_for_offers=available,
        ),
    )


def add_job(
    client: JobRouterClient, job_id: str, *, queue_id: str = "q", channel_id: str = "voice", **kwargs: Any
) -> RouterJob:
    """A job sent straight to a queue."""
    return client.upsert_job(job_id, RouterJob(channel_id=channel_id, queue_id=queue_id, **kwargs))


def offers(client: JobRouterClient, worker_id: str) -> list[RouterJobOffer]:
    """The worker's open offers."""
    return list(client.get_worker(worker_id).offers or [])


def wait_offer(
    client: JobRouterClient, worker_id: str, job_id: str | None = None, timeout: float = 5.0
) -> RouterJobOffer:
    """Wait for an open offer on the worker (for ``job_id`` if given)."""

    def find() -> RouterJobOffer | None:
        for offer in offers(client, worker_id):
            if job_id is None or offer.job_id == job_id:
                return offer
        return None

    return wait_until(find, timeout=timeout, what=f"an offer for {job_id or 'any job'} on {worker_id}")


def wait_job(
    client: JobRouterClient,
    job_id: str,
    condition: Callable[[RouterJob], bool],
    *,
    timeout: float = 5.0,
    what: str = "",
) -> RouterJob:
    """Poll the job until ``condition`` holds for it; return it as it was then."""

    def check() -> RouterJob | None:
        job = client.get_job(job_id)
        return job if condition(job) else None

    return wait_until(check, timeout=timeout, what=what or f"job {job_id} to change")


def wait_worker(
    client: JobRouterClient,
    worker_id: str,
    condition: Callable[[RouterWorker], bool],
    *,
    timeout: float = 5.0,
    what: str = "",
) -> RouterWorker:
    """Poll the worker until ``condition`` holds for it; return it as it was then."""

    def check() -> RouterWorker | None:
        worker = client.get_worker(worker_id)
        return worker if condition(worker) else None

    return wait_until(check, timeout=timeout, what=what or f"worker {worker_id} to change")


def wait_status(client: JobRouterClient, job_id: str, status: str, timeout: float = 5.0) -> RouterJob:
    """Wait until the job has ``status``."""
    return wait_job(
        client, job_id, lambda job: job.status == status, timeout=timeout, what=f"job {job_id} to be {status}"
    )


def response_text(error: HttpResponseError) -> str:
    """The body of the HTTP response an SDK error carries (every error these specs provoke has one)."""
    assert error.response is not None, error
    return error.response.text()


class Captured:
    """A ``raw_response_hook`` that keeps the last HTTP response (status, headers, text)."""

    def __init__(self) -> None:
        self.responses: list[Any] = []

    def __call__(self, response: PipelineResponse[Any, Any]) -> None:
        self.responses.append(response.http_response)

    @property
    def last(self) -> Any:
        return self.responses[-1]


def event_types(emu: Any, *, subject_contains: str = "") -> list[str]:
    """Short types of the events published so far (only those whose subject contains a text, if given)."""
    return [
        e.event_type.removeprefix("Microsoft.Communication.")
        for e in emu.events
        if subject_contains in e.subject
    ]


def admin_http(emu: HasEndpoint, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
    """A plain HTTP call to the admin API (no signature)."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(emu.endpoint + path, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"null")
