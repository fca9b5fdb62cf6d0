"""The repair decision: register again now, back off until T, deregister a disabled bot, or leave.

Every branch, for every trigger (an expiry, a deregistration, a reconciliation run), as a table.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest

from offer_handlers.events import OfferExpired, WorkerDeregistered
from offer_handlers.fleet import BotWorker, FlapGuard, WorkerChannel
from offer_handlers.repair import (
    BackOff,
    Deregister,
    LeaveWorker,
    ReconcileRun,
    Register,
    RepairDecision,
    RepairTrigger,
    backoff_until,
    decide_repair,
)
from offer_handlers.worker_diff import WorkerPatch, WorkerState, creation_patch

NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
GUARD = FlapGuard(
    max_expiries=3,
    window=timedelta(minutes=15),
    first_backoff=timedelta(seconds=30),
    max_backoff=timedelta(minutes=10),
)
BOT = BotWorker(
    worker_id="bot-1",
    queues=("support-en",),
    capacity=3,
    channels=(WorkerChannel("chat", 1),),
    labels=MappingProxyType({"kind": "bot"}),
)
DISABLED = replace(BOT, enabled=False)
ACTIVE = WorkerState(
    worker_id="bot-1",
    etag="e1",
    available_for_offers=True,
    state="active",
    queues=("support-en",),
    capacity=3,
    channels=(WorkerChannel("chat", 1),),
    labels=MappingProxyType({"Id": "bot-1", "kind": "bot"}),
)
DEREGISTERED = replace(ACTIVE, available_for_offers=False, state="inactive")
DRIFTED = replace(ACTIVE, queues=("support-fr",))
DEREGISTERED_AND_DRIFTED = replace(DEREGISTERED, capacity=1)
HELD = replace(DEREGISTERED, tags=MappingProxyType({"fleetHold": "INC-4711 alice"}))

EXPIRED = OfferExpired(event_id="ev-1", worker_id="bot-1", offer_id="o-1")
DEREGISTERED_EVENT = WorkerDeregistered(event_id="ev-2", worker_id="bot-1")
RUN = ReconcileRun(run_id="run-1")
TRIGGERS: dict[str, RepairTrigger] = {
    "expired": EXPIRED,
    "deregistered": DEREGISTERED_EVENT,
    "reconcile": RUN,
}


def ago(seconds: float) -> datetime:
    """A moment ``seconds`` before NOW."""
    return NOW - timedelta(seconds=seconds)


CALM = (ago(600),)  # one expiry ten minutes ago: under the guard's limit
FLAPPING = (ago(20), ago(15), ago(10))  # three in the window, the latest 10 s ago: back off until +30 s

# (id, triggers, declared, actual, expiries, expected)
CASES: list[
    tuple[str, tuple[str, ...], BotWorker | None, WorkerState | None, tuple[datetime, ...], RepairDecision]
] = [
    (
        "undeclared",
        ("expired", "deregistered", "reconcile"),
        None,
        DEREGISTERED,
        (),
        LeaveWorker("undeclared"),
    ),
    ("undeclared-missing", ("expired", "reconcile"), None, None, FLAPPING, LeaveWorker("undeclared")),
    ("held-deregistered", ("deregistered", "reconcile"), BOT, HELD, (), LeaveWorker("held")),
    (
        "held-disabled",
        ("reconcile",),
        DISABLED,
        replace(HELD, available_for_offers=True),
        (),
        LeaveWorker("held"),
    ),
    ("held-flapping", ("expired",), BOT, HELD, FLAPPING, LeaveWorker("held")),
    (
        "disabled-registered",
        ("expired", "deregistered", "reconcile"),
        DISABLED,
        ACTIVE,
        (),
        Deregister("disabled", WorkerPatch(available_for_offers=False)),
    ),
    (
        "disabled-deregistered",
        ("deregistered", "reconcile"),
        DISABLED,
        DEREGISTERED,
        (),
        LeaveWorker("disabled"),
    ),
    (
        "disabled-drifted-is-left-alone",
        ("reconcile",),
        DISABLED,
        replace(DEREGISTERED, queues=()),
        (),
        LeaveWorker("disabled"),
    ),
    ("disabled-missing", ("reconcile",), DISABLED, None, (), LeaveWorker("disabled")),
    (
        "deregistered",
        ("expired", "deregistered", "reconcile"),
        BOT,
        DEREGISTERED,
        CALM,
        Register("deregistered", WorkerPatch(available_for_offers=True)),
    ),
    (
        "deregistered-and-drifted",
        ("deregistered", "reconcile"),
        BOT,
        DEREGISTERED_AND_DRIFTED,
        (),
        Register("deregistered", WorkerPatch(available_for_offers=True, capacity=3)),
    ),
    ("missing", ("deregistered", "reconcile"), BOT, None, (), Register("missing", creation_patch(BOT))),
    (
        "flapping-deregistered",
        ("expired", "deregistered", "reconcile"),
        BOT,
        DEREGISTERED,
        FLAPPING,
        BackOff("flapping", ago(10) + timedelta(seconds=30), 3),
    ),
    (
        "flapping-missing",
        ("reconcile",),
        BOT,
        None,
        FLAPPING,
        BackOff("flapping", ago(10) + timedelta(seconds=30), 3),
    ),
    ("flapping-but-registered", ("deregistered",), BOT, ACTIVE, FLAPPING, LeaveWorker("registered")),
    (
        "backoff-over",
        ("reconcile",),
        BOT,
        DEREGISTERED,
        (ago(60), ago(50), ago(40)),
        Register("deregistered", WorkerPatch(available_for_offers=True)),
    ),
    ("registered-event", ("expired", "deregistered"), BOT, ACTIVE, (), LeaveWorker("registered")),
    (
        "registered-drifted-event-leaves-drift-to-the-timer",
        ("deregistered",),
        BOT,
        DRIFTED,
        (),
        LeaveWorker("registered"),
    ),
    ("in-sync", ("reconcile",), BOT, ACTIVE, FLAPPING, LeaveWorker("in-sync")),
    ("drifted", ("reconcile",), BOT, DRIFTED, (), Register("drifted", WorkerPatch(queues=("support-en",)))),
]

EXPANDED = [(f"{case[0]}/{trigger}", trigger, *case[2:]) for case in CASES for trigger in case[1]]


@pytest.mark.parametrize(
    ("trigger", "declared", "actual", "expiries", "expected"),
    [c[1:] for c in EXPANDED],
    ids=[c[0] for c in EXPANDED],
)
def test_the_repair_decision(
    trigger: str,
    declared: BotWorker | None,
    actual: WorkerState | None,
    expiries: tuple[datetime, ...],
    expected: RepairDecision,
) -> None:
    decision = decide_repair(TRIGGERS[trigger], declared, actual, expiries=expiries, guard=GUARD, now=NOW)

    assert decision == expected


# --- the flapping guard ------------------------------------------------------------------------------

# (id, expiries (seconds ago), expected (seconds from NOW until registration is allowed, count) or None)
GUARD_CASES: list[tuple[str, tuple[float, ...], tuple[float, int] | None]] = [
    ("none", (), None),
    ("under-the-limit", (10, 5), None),
    ("at-the-limit-backs-off-the-first-delay", (20, 15, 10), (20.0, 3)),
    ("one-more-doubles-it", (25, 20, 15, 10), (50.0, 4)),
    ("two-more-double-it-again", (30, 25, 20, 15, 10), (110.0, 5)),
    ("many-more-are-capped", tuple(range(100, 0, -5)), (600.0 - 5, 20)),
    ("old-expiries-leave-the-window", (3000, 2000, 1000, 10), None),
    ("the-delay-runs-from-the-latest-expiry", (40, 35, 31), None),
    ("order-does-not-matter", (10, 20, 15), (20.0, 3)),
    ("an-expiry-ahead-of-the-clock-counts-as-now", (20, 15, -5), (30.0, 3)),
    ("an-expiry-exactly-the-window-old-counts", (900, 20, 10), (20.0, 3)),
    ("an-expiry-just-older-than-the-window-does-not", (900.001, 20, 10), None),
    ("a-back-off-ending-now-lets-it-register-now", (40, 35, 30), None),
    ("a-back-off-ending-just-after-now-still-holds", (40, 35, 29.999), (0.001, 3)),
]


@pytest.mark.parametrize(
    ("seconds_ago", "expected"), [c[1:] for c in GUARD_CASES], ids=[c[0] for c in GUARD_CASES]
)
def test_the_flapping_guard(seconds_ago: tuple[float, ...], expected: tuple[float, int] | None) -> None:
    result = backoff_until([ago(s) for s in seconds_ago], GUARD, now=NOW)

    if expected is None:
        assert result is None
    else:
        seconds, count = expected
        assert result == (NOW + timedelta(seconds=seconds), count)


def test_the_back_off_never_exceeds_the_cap_after_the_latest_expiry() -> None:
    burst = [ago(s / 10) for s in range(1000)]  # a thousand expiries in 100 s

    result = backoff_until(burst, GUARD, now=NOW)

    assert result is not None
    until, count = result
    assert count == 1000
    assert until == max(burst) + GUARD.max_backoff


def test_every_decision_carries_a_reason() -> None:
    for case in EXPANDED:
        trigger, declared, actual, expiries, _ = case[1:]
        decision = decide_repair(TRIGGERS[trigger], declared, actual, expiries=expiries, guard=GUARD, now=NOW)
        assert decision.reason
