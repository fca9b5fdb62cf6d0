"""The repair decision: a pure function of the trigger, the declaration, the worker's state and history.

``decide_repair`` answers *register again now* (``Register``, with the patch), *back off until T*
(``BackOff``), *take it out of service* (``Deregister``, for a disabled bot) or *leave it*
(``LeaveWorker``). No I/O, no clock: ``now`` and the worker's recent offer-expiry times are given.

The flapping guard: a bot whose offers keep expiring is unhealthy, and registering it again at once
only sends it more offers to miss. With ``max_expiries`` or more expiries inside ``window``, the worker
is registered again no sooner than ``first_backoff`` after the latest one, doubling with each further
expiry, at most ``max_backoff``. The reconciliation run after that time registers it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, assert_never

from offer_handlers.events import OfferExpired, WorkerDeregistered, WorkerLifecycleEvent
from offer_handlers.fleet import BotWorker, FlapGuard, is_held
from offer_handlers.worker_diff import (
    WorkerPatch,
    WorkerState,
    creation_patch,
    deregistration_patch,
    drift,
    registration_patch,
)

__all__ = [
    "BackOff",
    "Deregister",
    "LeaveWorker",
    "ReconcileRun",
    "Register",
    "RepairDecision",
    "RepairTrigger",
    "backoff_until",
    "decide_repair",
]

# 2**20 times the first back-off outgrows any sane cap; stop doubling there (no huge integers).
_MAX_DOUBLINGS: Final = 20


@dataclass(frozen=True, slots=True)
class ReconcileRun:
    """One run of the reconciliation timer (``run_id`` stands in for an event id in log lines)."""

    run_id: str


type RepairTrigger = WorkerLifecycleEvent | ReconcileRun


@dataclass(frozen=True, slots=True)
class Register:
    """Apply ``patch``: register the worker again, create it, or repair its drift."""

    reason: str
    patch: WorkerPatch


@dataclass(frozen=True, slots=True)
class Deregister:
    """Take a disabled bot out of service (``availableForOffers`` false); then it is left alone."""

    reason: str
    patch: WorkerPatch


@dataclass(frozen=True, slots=True)
class BackOff:
    """Do not register the worker before ``until``: its offers keep expiring (``expiries`` in the window)."""

    reason: str
    until: datetime
    expiries: int


@dataclass(frozen=True, slots=True)
class LeaveWorker:
    """Make no call."""

    reason: str


type RepairDecision = Register | Deregister | BackOff | LeaveWorker


def decide_repair(
    trigger: RepairTrigger,
    declared: BotWorker | None,
    actual: WorkerState | None,
    *,
    expiries: Iterable[datetime],
    guard: FlapGuard,
    now: datetime,
) -> RepairDecision:
    """What to do about one worker; ``actual`` is None when Job Router has no such worker (404).

    Events only ever bring a worker back into service; drift on a registered worker is repaired by
    the reconciliation run, so a late or duplicate event never writes to a worker that is active.
    """
    if declared is None:
        return LeaveWorker("undeclared")  # people's workers, and bots no longer declared
    if actual is not None and is_held(actual.tags):
        return LeaveWorker("held")  # an operator took it over by hand
    if not declared.enabled:
        return _out_of_service(actual)
    if actual is None or not actual.available_for_offers:
        return _back_into_service(declared, actual, expiries=expiries, guard=guard, now=now)
    return _in_service(trigger, declared, actual)


def _out_of_service(actual: WorkerState | None) -> RepairDecision:
    if actual is not None and actual.available_for_offers:
        return Deregister("disabled", deregistration_patch())
    return LeaveWorker("disabled")


def _back_into_service(
    declared: BotWorker,
    actual: WorkerState | None,
    *,
    expiries: Iterable[datetime],
    guard: FlapGuard,
    now: datetime,
) -> RepairDecision:
    backoff = backoff_until(expiries, guard, now=now)
    if backoff is not None:
        until, count = backoff
        return BackOff("flapping", until, count)
    if actual is None:
        return Register("missing", creation_patch(declared))
    return Register("deregistered", registration_patch(declared, actual))


def _in_service(trigger: RepairTrigger, declared: BotWorker, actual: WorkerState) -> RepairDecision:
    match trigger:
        case ReconcileRun():
            repair = drift(declared, actual)
            return LeaveWorker("in-sync") if repair.is_empty else Register("drifted", repair)
        case OfferExpired() | WorkerDeregistered():
            return LeaveWorker("registered")  # already back: a duplicate, or delivered out of order
        case _:
            assert_never(trigger)


def backoff_until(
    expiries: Iterable[datetime], guard: FlapGuard, *, now: datetime
) -> tuple[datetime, int] | None:
    """When the guard lets the worker be registered again, and how many expiries it counted; None: now."""
    start = now - guard.window
    recent = sorted(min(t, now) for t in expiries if t >= start)  # a time ahead of our clock counts as now
    if len(recent) < guard.max_expiries:
        return None
    doublings = min(len(recent) - guard.max_expiries, _MAX_DOUBLINGS)
    delay = min(guard.first_backoff * (2**doublings), guard.max_backoff)
    until = recent[-1] + max(delay, timedelta(0))
    return (until, len(recent)) if until > now else None
