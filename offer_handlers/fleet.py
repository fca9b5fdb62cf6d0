"""The declared bot fleet: a versioned JSON document, validated into frozen workers when it is loaded.

It lists the bot workers this app keeps registered (their queues, channels, capacity, labels, tags and
whether they are enabled), the flapping guard's limits and the reconciliation's time budget. Only the
workers listed here are ever touched. Every validation error names the worker and the field
(``InvalidFleetError``). The format is documented in README.md ("The bot fleet") and shown by
examples/fleet.json.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Final

from offer_handlers.errors import InvalidFleetError
from offer_handlers.events import LabelValue

# The strict JSON reader (duplicate keys and NaN/Infinity refused) is the policy loader's for now.
from offer_handlers.json_document import ErrorFactory, JsonObject, parse_json_text

__all__ = [
    "DEFAULT_RECONCILE_BUDGET",
    "FLEET_VERSION",
    "HOLD_TAG",
    "NO_FLEET",
    "SERVICE_ID_LABEL",
    "BotWorker",
    "FlapGuard",
    "Fleet",
    "WorkerChannel",
    "is_held",
    "load_fleet_file",
    "load_fleet_text",
    "parse_fleet",
]

FLEET_VERSION: Final = 1
# The tag an operator sets on a bot to take it over by hand: the app then leaves that worker alone.
# A tag, not a label, because tags play no part in matching. Declaring it in the fleet is refused.
HOLD_TAG: Final = "fleetHold"
# The label Job Router itself sets on every worker ("Id": "<worker id>").
SERVICE_ID_LABEL: Final = "Id"

# Job Router's integers are 32-bit.
_INT32_MAX: Final = 2**31 - 1
_MAX_ID_LENGTH: Final = 256
_MAX_WORKERS: Final = 1000
# Under the default one-minute schedule, so one run ends before the next is due.
DEFAULT_RECONCILE_BUDGET: Final = timedelta(seconds=40)


@dataclass(frozen=True, slots=True)
class WorkerChannel:
    """A channel the bot takes jobs on: the capacity one job costs, and at most how many jobs at once."""

    channel_id: str
    capacity_cost_per_job: int
    max_number_of_jobs: int | None = None


@dataclass(frozen=True, slots=True)
class BotWorker:
    """A declared bot worker: the configuration the app keeps registered (or, disabled, deregistered)."""

    worker_id: str
    queues: tuple[str, ...]
    capacity: int
    channels: tuple[WorkerChannel, ...]
    labels: Mapping[str, LabelValue] = field(default_factory=lambda: MappingProxyType({}))
    tags: Mapping[str, LabelValue] = field(default_factory=lambda: MappingProxyType({}))
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class FlapGuard:
    """The flapping guard's numbers.

    After ``max_expiries`` offer expiries within ``window``, back off: ``first_backoff``, doubling per
    further expiry, at most ``max_backoff``.
    """

    max_expiries: int = 3
    window: timedelta = timedelta(minutes=15)
    first_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Fleet:
    """A validated fleet: the declared workers (in document order), the guard and the reconcile budget."""

    workers: tuple[BotWorker, ...]
    guard: FlapGuard = FlapGuard()
    reconcile_budget: timedelta = DEFAULT_RECONCILE_BUDGET
    version: int = FLEET_VERSION
    # The workers by id (derived: not compared or shown).
    by_id: Mapping[str, BotWorker] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", MappingProxyType({w.worker_id: w for w in self.workers}))

    def declared(self, worker_id: str) -> BotWorker | None:
        """The declaration of ``worker_id``, or None when the app does not answer for that worker."""
        return self.by_id.get(worker_id)


# With no fleet configured, no worker is declared and the app touches none.
NO_FLEET: Final = Fleet(workers=())


def is_held(tags: Mapping[str, LabelValue]) -> bool:
    """Whether an operator holds the worker (``fleetHold`` set to anything but false, 0 or "")."""
    value = tags.get(HOLD_TAG)
    if value is None or value is False or value in ("", 0):
        return False
    return not (isinstance(value, str) and value.strip().lower() == "false")


# --- loading --------------------------------------------------------------------------------------


def load_fleet_text(text: str) -> Fleet:
    """Parse and validate a fleet from JSON text (e.g. the FLEET setting)."""
    return parse_fleet(parse_json_text(text, _fleet_error(None)))


def load_fleet_file(path: Path) -> Fleet:
    """Read, parse and validate a fleet file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidFleetError(f"cannot read {str(path)!r}: {err.__class__.__name__}: {err}") from None
    return load_fleet_text(text)


def parse_fleet(document: object) -> Fleet:
    """Validate a decoded fleet document and build the frozen ``Fleet``."""
    top = _Obj(document, error=_fleet_error(None))
    top.only({"version", "description", "guard", "reconcile", "workers"})
    version = top.get("version")
    if version is None:
        top.fail("version", f"missing; this app reads version {FLEET_VERSION}")
    if version != FLEET_VERSION or isinstance(version, bool):
        top.fail("version", f"unsupported version {version!r}; this app reads version {FLEET_VERSION}")
    top.optional_text("description")

    guard = _parse_guard(top.child("guard")) if top.get("guard") is not None else FlapGuard()
    budget = DEFAULT_RECONCILE_BUDGET
    if top.get("reconcile") is not None:
        reconcile = top.child("reconcile")
        reconcile.only({"budgetSeconds"})
        if reconcile.get("budgetSeconds") is not None:
            budget = timedelta(seconds=reconcile.number("budgetSeconds", minimum=1.0, maximum=600.0))

    raw_workers = top.get("workers")
    if not isinstance(raw_workers, list):
        top.fail("workers", 'expected an array of workers (it may be empty: "workers": [])')
    if len(raw_workers) > _MAX_WORKERS:
        top.fail("workers", f"at most {_MAX_WORKERS} workers (reconciliation reads each one every run)")
    workers: list[BotWorker] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_workers):
        worker = _parse_worker(raw, index)
        if worker.worker_id in seen:
            raise InvalidFleetError("declared twice; worker ids must be unique", worker=worker.worker_id)
        seen.add(worker.worker_id)
        workers.append(worker)
    return Fleet(workers=tuple(workers), guard=guard, reconcile_budget=budget)


def _parse_guard(obj: _Obj) -> FlapGuard:
    obj.only({"maxExpiries", "windowSeconds", "firstBackoffSeconds", "maxBackoffSeconds"})
    default = FlapGuard()
    max_expiries = default.max_expiries
    if obj.get("maxExpiries") is not None:
        max_expiries = obj.integer("maxExpiries", minimum=1, maximum=100)
    window = _seconds(obj, "windowSeconds", default.window, minimum=10.0, maximum=86_400.0)
    first = _seconds(obj, "firstBackoffSeconds", default.first_backoff, minimum=1.0, maximum=3600.0)
    most = _seconds(obj, "maxBackoffSeconds", default.max_backoff, minimum=1.0, maximum=86_400.0)
    if most < first:
        obj.fail(
            "maxBackoffSeconds",
            f"must be at least firstBackoffSeconds ({first.total_seconds():g}); the delay only grows",
        )
    return FlapGuard(max_expiries=max_expiries, window=window, first_backoff=first, max_backoff=most)


def _seconds(obj: _Obj, key: str, default: timedelta, *, minimum: float, maximum: float) -> timedelta:
    if obj.get(key) is None:
        return default
    return timedelta(seconds=obj.number(key, minimum=minimum, maximum=maximum))


def _parse_worker(raw: object, index: int) -> BotWorker:
    label = f"#{index + 1}"
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
        label = raw["id"]
    obj = _Obj(raw, error=_fleet_error(label))
    obj.only({"id", "description", "enabled", "queues", "capacity", "channels", "labels", "tags"})
    worker_id = obj.get("id")
    if not isinstance(worker_id, str) or not worker_id:
        obj.fail("id", "every worker needs an id (the Job Router worker id)")
    if (
        len(worker_id) > _MAX_ID_LENGTH
        or not worker_id.isprintable()
        or any(c.isspace() or c in "/?#%" for c in worker_id)
    ):
        obj.fail(
            "id",
            f"use at most {_MAX_ID_LENGTH} printable characters, without spaces or '/', '?', '#', '%' "
            "(it goes into the request path)",
        )
    obj.optional_text("description")
    enabled = obj.get("enabled", True)
    if not isinstance(enabled, bool):
        obj.fail("enabled", "expected true or false")

    queues = obj.id_list("queues")
    if obj.get("capacity") is None:
        obj.fail("capacity", "missing: the worker's total capacity, e.g. 100")
    capacity = obj.integer("capacity", minimum=1, maximum=_INT32_MAX)
    channels = _parse_channels(obj, capacity)
    labels = obj.labels("labels")
    declared_id = labels.get(SERVICE_ID_LABEL)
    if declared_id is not None and declared_id != worker_id:
        obj.fail(
            f"labels.{SERVICE_ID_LABEL}",
            f"Job Router sets this label to the worker id ({worker_id!r}); leave it out",
        )
    tags = obj.labels("tags")
    if HOLD_TAG in tags:
        obj.fail(
            f"tags.{HOLD_TAG}",
            "this tag is the operator's switch to take the bot over by hand; it is set on the worker, "
            "never declared",
        )
    return BotWorker(
        worker_id=worker_id,
        queues=queues,
        capacity=capacity,
        channels=channels,
        labels=labels,
        tags=tags,
        enabled=enabled,
    )


def _parse_channels(obj: _Obj, capacity: int) -> tuple[WorkerChannel, ...]:
    raw = obj.get("channels")
    if not isinstance(raw, list) or not raw:
        obj.fail(
            "channels",
            'expected a non-empty array like [{"channelId": "chat", "capacityCostPerJob": 20}] '
            "(a worker without channels is never offered a job)",
        )
    channels: list[WorkerChannel] = []
    seen: set[str] = set()
    for index, _ in enumerate(raw):
        item = obj.item("channels", index)
        item.only({"channelId", "capacityCostPerJob", "maxNumberOfJobs"})
        channel_id = item.get("channelId")
        if not isinstance(channel_id, str) or not channel_id:
            item.fail("channelId", "expected a non-empty string")
        if channel_id in seen:
            item.fail("channelId", f"channel {channel_id!r} is listed twice")
        seen.add(channel_id)
        if item.get("capacityCostPerJob") is None:
            item.fail("capacityCostPerJob", "missing: the capacity one job on this channel uses")
        cost = item.integer("capacityCostPerJob", minimum=0, maximum=_INT32_MAX)
        if cost > capacity:
            item.fail(
                "capacityCostPerJob",
                f"{cost} is more than the worker's capacity ({capacity}), so no job on this channel "
                "would ever fit",
            )
        most = None
        if item.get("maxNumberOfJobs") is not None:
            most = item.integer("maxNumberOfJobs", minimum=1, maximum=_INT32_MAX)
        channels.append(WorkerChannel(channel_id, cost, most))
    return tuple(channels)


def _fleet_error(worker: str | None) -> ErrorFactory:
    """The fleet's error for fields of ``worker`` (``None``: of the document itself)."""

    def error(message: str, field: str | None) -> Exception:
        return InvalidFleetError(message, worker=worker, field=field)

    return error


class _Obj(JsonObject):
    """A JSON object inside the fleet, with typed reads that fail naming the worker and field path."""

    __slots__ = ()

    def optional_text(self, key: str) -> None:
        if self.get(key) is not None and not isinstance(self.get(key), str):
            self.fail(key, "expected a string")

    def id_list(self, key: str) -> tuple[str, ...]:
        raw = self.get(key)
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and v for v in raw):
            self.fail(key, "expected a non-empty array of non-empty strings")
        if len(set(raw)) != len(raw):
            self.fail(key, "lists the same id twice")
        return tuple(raw)

    def integer(self, key: str, *, minimum: int, maximum: int) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "expected a whole number")
        if not minimum <= value <= maximum:
            self.fail(key, f"must be between {minimum} and {maximum}")
        return value

    def number(self, key: str, *, minimum: float, maximum: float) -> float:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, "expected a number")
        if not minimum <= value <= maximum:
            self.fail(key, f"must be between {minimum:g} and {maximum:g}")
        return float(value)

    def labels(self, key: str) -> Mapping[str, LabelValue]:
        raw = self.get(key)
        if raw is None:
            return MappingProxyType({})
        if not isinstance(raw, dict):
            self.fail(key, 'expected an object of key/value pairs, e.g. {"language": "en"}')
        labels: dict[str, LabelValue] = {}
        for name, value in raw.items():
            if not name:
                self.fail(key, "a key is empty")
            if isinstance(value, float) and not math.isfinite(value):
                self.fail(f"{key}.{name}", "expected a finite number")
            if not isinstance(value, str | int | float | bool):
                self.fail(f"{key}.{name}", "expected a string, number or boolean (null removes nothing here)")
            labels[name] = value
        return MappingProxyType(labels)
