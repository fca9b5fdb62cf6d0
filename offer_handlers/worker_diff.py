"""The reconciliation diff: a declared bot against the worker Job Router has, as the patch to apply.

Pure: ``WorkerState`` is what the service reported (read once, with its ETag), ``WorkerPatch`` the
merge-patch the app would send, and nothing here calls anything. Comparisons ignore what the service
or an operator owns: the ``Id`` label Job Router sets on every worker, and the ``fleetHold`` tag.
Queues and channels compare as sets (the service may reorder them); ``True`` never equals ``1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from offer_handlers.events import LabelValue
from offer_handlers.fleet import HOLD_TAG, SERVICE_ID_LABEL, BotWorker, WorkerChannel

__all__ = [
    "WorkerPatch",
    "WorkerState",
    "creation_patch",
    "deregistration_patch",
    "drift",
    "registration_patch",
]

_EMPTY: Final[Mapping[str, LabelValue]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WorkerState:
    """A worker as Job Router reported it: the fields the fleet compares, and the ETag to write against."""

    worker_id: str
    etag: str | None
    available_for_offers: bool
    state: str | None = None  # active, draining or inactive
    queues: tuple[str, ...] = ()
    capacity: int | None = None
    channels: tuple[WorkerChannel, ...] = ()
    labels: Mapping[str, LabelValue] = _EMPTY
    tags: Mapping[str, LabelValue] = _EMPTY


@dataclass(frozen=True, slots=True)
class WorkerPatch:
    """A merge-patch of a worker.

    ``None`` fields are left as they are; a ``None`` label or tag value removes that key.
    """

    available_for_offers: bool | None = None
    queues: tuple[str, ...] | None = None
    capacity: int | None = None
    channels: tuple[WorkerChannel, ...] | None = None
    labels: Mapping[str, LabelValue | None] | None = None
    tags: Mapping[str, LabelValue | None] | None = None

    @property
    def changes(self) -> tuple[str, ...]:
        """The names of the parts this patch changes, for log lines (e.g. ``("available", "queues")``)."""
        parts = (
            ("available", self.available_for_offers),
            ("queues", self.queues),
            ("capacity", self.capacity),
            ("channels", self.channels),
            ("labels", self.labels),
            ("tags", self.tags),
        )
        return tuple(name for name, value in parts if value is not None)

    @property
    def is_empty(self) -> bool:
        """Whether the patch changes nothing."""
        return not self.changes


def creation_patch(declared: BotWorker) -> WorkerPatch:
    """Everything the declaration says, registered: for a worker the service does not have."""
    return WorkerPatch(
        available_for_offers=True,
        queues=declared.queues,
        capacity=declared.capacity,
        channels=declared.channels,
        labels=MappingProxyType(dict(declared.labels)),
        tags=MappingProxyType(dict(declared.tags)),
    )


def registration_patch(declared: BotWorker, actual: WorkerState) -> WorkerPatch:
    """Register the worker again and repair any drift in the same write."""
    repair = drift(declared, actual)
    return WorkerPatch(
        available_for_offers=None if actual.available_for_offers else True,
        queues=repair.queues,
        capacity=repair.capacity,
        channels=repair.channels,
        labels=repair.labels,
        tags=repair.tags,
    )


def deregistration_patch() -> WorkerPatch:
    """Take the worker out of service: it gets no more offers (its open offers are revoked)."""
    return WorkerPatch(available_for_offers=False)


def drift(declared: BotWorker, actual: WorkerState) -> WorkerPatch:
    """The configuration that differs (queues, capacity, channels, labels, tags); availability aside."""
    queues = None if set(declared.queues) == set(actual.queues) else declared.queues
    capacity = None if declared.capacity == actual.capacity else declared.capacity
    channels = None if _channel_map(declared.channels) == _channel_map(actual.channels) else declared.channels
    labels = _map_patch(declared.labels, actual.labels, ignore=_ignored_labels(declared))
    tags = _map_patch(declared.tags, actual.tags, ignore=frozenset({HOLD_TAG}))
    return WorkerPatch(queues=queues, capacity=capacity, channels=channels, labels=labels, tags=tags)


def _ignored_labels(declared: BotWorker) -> frozenset[str]:
    # The service sets "Id" itself; only a declaration that names it (with the worker id) compares it.
    return frozenset() if SERVICE_ID_LABEL in declared.labels else frozenset({SERVICE_ID_LABEL})


def _channel_map(channels: tuple[WorkerChannel, ...]) -> dict[str, tuple[int, int | None]]:
    return {c.channel_id: (c.capacity_cost_per_job, c.max_number_of_jobs) for c in channels}


def _map_patch(
    declared: Mapping[str, LabelValue], actual: Mapping[str, LabelValue], *, ignore: frozenset[str]
) -> Mapping[str, LabelValue | None] | None:
    patch: dict[str, LabelValue | None] = {
        key: value for key, value in declared.items() if key not in actual or not _same(actual[key], value)
    }
    patch.update({key: None for key in actual if key not in declared and key not in ignore})
    return MappingProxyType(patch) if patch else None


def _same(actual: LabelValue, expected: LabelValue) -> bool:
    # True == 1 in Python; in labels a boolean and a number are different values.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, str) != isinstance(expected, str):
        return False
    return actual == expected
