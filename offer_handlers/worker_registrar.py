"""``WorkerRegistrar`` over the Job Router SDK: ``get_worker`` and ``upsert_worker`` with the worker's ETag.

The SDK edge for workers: a ``RouterWorker`` the service returns becomes a frozen ``WorkerState``, and a
``WorkerPatch`` becomes the merge-patch body (wire names only here), sent as a raw dict so that a
``null`` label or tag removes it. Writes are conditional: ``If-Match: "<etag>"`` for an existing worker,
``If-None-Match: *`` to create one, so a concurrent change surfaces as a 412 instead of being
overwritten. Every call is bounded by the time given (retries included), at most ``MAX_CALL_SECONDS``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from offer_handlers.client import MAX_CALL_SECONDS, build_sdk_client
from offer_handlers.events import LabelValue
from offer_handlers.fleet import WorkerChannel
from offer_handlers.settings import Settings
from offer_handlers.worker_diff import WorkerPatch, WorkerState

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.pipeline.transport import HttpTransport
    from azure.core.rest import HttpRequest, HttpResponse

__all__ = ["SdkWorkerRegistrar", "build_registrar", "patch_body", "worker_state"]


class _WorkerClient(Protocol):
    """The two SDK methods the registrar uses (both the public and the generated client have them)."""

    def get_worker(self, worker_id: str, **kwargs: Any) -> Any: ...

    def upsert_worker(self, worker_id: str, resource: Any, **kwargs: Any) -> Any: ...


class SdkWorkerRegistrar:
    """``WorkerRegistrar`` over a Job Router SDK client."""

    def __init__(
        self,
        client: _WorkerClient,
        *,
        request_timeout: float,
        call_options: Mapping[str, object] | None = None,
    ) -> None:
        self._client = client
        self._request_timeout = request_timeout
        self._call_options = dict(call_options or {})

    def _budget(self, timeout: float) -> dict[str, object]:
        total = min(timeout, MAX_CALL_SECONDS)
        per_attempt = min(self._request_timeout, total)
        return {
            **self._call_options,
            "timeout": total,
            "connection_timeout": per_attempt,
            "read_timeout": per_attempt,
        }

    def get(self, worker_id: str, *, timeout: float) -> WorkerState:
        """The worker with its ETag; ``ResourceNotFoundError`` when Job Router has no such worker."""
        return worker_state(worker_id, self._client.get_worker(worker_id, **self._budget(timeout)))

    def upsert(self, worker_id: str, patch: WorkerPatch, *, etag: str | None, timeout: float) -> WorkerState:
        """Apply ``patch`` if the ETag still matches (or, with no ETag, only if the worker does not exist)."""
        from azure.core import MatchConditions

        condition = MatchConditions.IfMissing if etag is None else MatchConditions.IfNotModified
        written = self._client.upsert_worker(
            worker_id, patch_body(patch), etag=etag, match_condition=condition, **self._budget(timeout)
        )
        return worker_state(worker_id, written)


def build_registrar(
    settings: Settings,
    *,
    transport: HttpTransport[HttpRequest, HttpResponse] | None = None,
    credential: TokenCredential | None = None,
    logging_enable: bool = False,
) -> SdkWorkerRegistrar:
    """The registrar over the client the settings call for; ``transport``/``credential`` are for tests."""
    client, call_options = build_sdk_client(
        settings, transport=transport, credential=credential, logging_enable=logging_enable
    )
    return SdkWorkerRegistrar(client, request_timeout=settings.request_timeout, call_options=call_options)


def patch_body(patch: WorkerPatch) -> dict[str, object]:
    """The merge-patch body of ``patch`` (wire names; a ``None`` label or tag value is sent as null)."""
    body: dict[str, object] = {}
    if patch.available_for_offers is not None:
        body["availableForOffers"] = patch.available_for_offers
    if patch.queues is not None:
        body["queues"] = list(patch.queues)
    if patch.capacity is not None:
        body["capacity"] = patch.capacity
    if patch.channels is not None:
        body["channels"] = [_channel_body(c) for c in patch.channels]
    if patch.labels is not None:
        body["labels"] = dict(patch.labels)
    if patch.tags is not None:
        body["tags"] = dict(patch.tags)
    return body


def _channel_body(channel: WorkerChannel) -> dict[str, object]:
    body: dict[str, object] = {
        "channelId": channel.channel_id,
        "capacityCostPerJob": channel.capacity_cost_per_job,
    }
    if channel.max_number_of_jobs is not None:
        body["maxNumberOfJobs"] = channel.max_number_of_jobs
    return body


def worker_state(worker_id: str, worker: Any) -> WorkerState:
    """A ``RouterWorker`` (the SDK model) as the frozen state the fleet compares."""
    channels = tuple(
        WorkerChannel(
            channel_id=str(c.channel_id),
            capacity_cost_per_job=int(c.capacity_cost_per_job or 0),
            max_number_of_jobs=None if c.max_number_of_jobs is None else int(c.max_number_of_jobs),
        )
        for c in (worker.channels or ())
    )
    etag = worker.etag
    capacity = worker.capacity
    return WorkerState(
        worker_id=worker_id,
        etag=str(etag) if etag else None,
        available_for_offers=bool(worker.available_for_offers),
        state=None if worker.state is None else str(worker.state),
        queues=tuple(str(q) for q in (worker.queues or ())),
        capacity=None if capacity is None else int(capacity),
        channels=channels,
        labels=_values(worker.labels),
        tags=_values(worker.tags),
    )


def _values(raw: object) -> Mapping[str, LabelValue]:
    if not isinstance(raw, Mapping):
        return MappingProxyType({})
    values: dict[str, LabelValue] = {}
    for key, value in raw.items():
        if value is None:
            continue
        # Anything but a primitive is kept as its JSON text: it then differs from any declaration.
        values[str(key)] = value if isinstance(value, str | int | float | bool) else json.dumps(value)
    return MappingProxyType(values)
