"""The fleet benchmark's measure: each deregistration paired with the same worker's next registration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.fleet_repair import repair_latencies
from devstack.demo import demo_event as ev
from devstack.demo.demo_event import DemoEvent

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _event(kind: str, worker: str, ms: float) -> DemoEvent:
    return DemoEvent(
        id=f"{kind}-{worker}-{ms}",
        type=kind,
        subject=f"worker/{worker}",
        time=T0 + timedelta(milliseconds=ms),
        data={"workerId": worker},
    )


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], []),
        ([_event(ev.WORKER_DEREGISTERED, "a", 0), _event(ev.WORKER_REGISTERED, "a", 40)], [40.0]),
        (
            [
                _event(ev.WORKER_REGISTERED, "a", 0),  # the first registration pairs with nothing
                _event(ev.WORKER_DEREGISTERED, "a", 10),
                _event(ev.WORKER_DEREGISTERED, "b", 20),
                _event(ev.WORKER_REGISTERED, "b", 50),
                _event(ev.WORKER_REGISTERED, "a", 110),
            ],
            [100.0, 30.0],
        ),
        ([_event(ev.WORKER_DEREGISTERED, "a", 0), _event(ev.WORKER_REGISTERED, "b", 5)], []),
    ],
    ids=["nothing", "one-repair", "interleaved-workers-in-time-order", "never-repaired"],
)
def test_each_deregistration_is_paired_with_that_workers_next_registration(
    events: list[DemoEvent], expected: list[float]
) -> None:
    assert repair_latencies(list(reversed(events))) == pytest.approx(expected)
