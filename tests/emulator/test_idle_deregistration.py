"""A worker registered but idle too long is deregistered by the service (7 days; shortened here to watch it).

Idle means registered and holding no offer and no job. The clock starts when the worker becomes idle and
stops while it holds anything; ``worker_idle_seconds`` (``--worker-idle-seconds``) is how long it may last.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.communication.jobrouter import JobRouterClient

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from tests.emulator.helpers import (
    add_job,
    add_worker,
    admin_client,
    event_types,
    router_client,
    setup_queue,
    wait_offer,
    wait_worker,
)

IDLE = 0.4


@pytest.fixture
def idle_emu() -> Iterator[EmulatorThread]:
    """An emulator whose workers are deregistered after IDLE seconds without an offer or a job."""
    with EmulatorThread(EmulatorConfig(seed=7, worker_idle_seconds=IDLE)) as emulator:
        yield emulator


@pytest.fixture
def idle_client(idle_emu: EmulatorThread) -> Iterator[JobRouterClient]:
    with admin_client(idle_emu) as admin, router_client(idle_emu) as client:
        setup_queue(admin, offer_expires_after_seconds=60)
        yield client


def _deregistered(client: JobRouterClient, worker_id: str, timeout: float = 5.0) -> None:
    wait_worker(
        client, worker_id, lambda w: w.available_for_offers is False, timeout=timeout, what="deregistration"
    )


def test_a_registered_worker_left_idle_is_deregistered_with_the_event(
    idle_emu: EmulatorThread, idle_client: JobRouterClient
) -> None:
    started = time.monotonic()
    add_worker(idle_client, "w")

    _deregistered(idle_client, "w")

    assert time.monotonic() - started >= IDLE * 0.9
    assert idle_client.get_worker("w").state == "inactive"
    assert event_types(idle_emu, subject_contains="worker/w") == [
        "RouterWorkerRegistered",
        "RouterWorkerDeregistered",
    ]


def test_a_worker_holding_a_job_is_never_idle_and_its_clock_restarts_when_the_job_ends(
    idle_client: JobRouterClient,
) -> None:
    add_worker(idle_client, "w")
    add_job(idle_client, "j")
    offer = wait_offer(idle_client, "w", "j")
    accepted = idle_client.accept_job_offer("w", offer.offer_id)

    time.sleep(IDLE * 2.5)
    assert idle_client.get_worker("w").available_for_offers is True  # busy all along

    idle_client.complete_job("j", accepted.assignment_id)
    idle_client.close_job("j", accepted.assignment_id)
    released = time.monotonic()
    _deregistered(idle_client, "w")
    assert time.monotonic() - released >= IDLE * 0.9


def test_a_worker_that_is_registered_again_gets_a_fresh_idle_clock(idle_client: JobRouterClient) -> None:
    add_worker(idle_client, "w")
    _deregistered(idle_client, "w")

    idle_client.upsert_worker("w", {"availableForOffers": True})
    registered = time.monotonic()
    assert idle_client.get_worker("w").available_for_offers is True

    _deregistered(idle_client, "w")
    assert time.monotonic() - registered >= IDLE * 0.9


def test_a_worker_that_was_never_registered_is_left_alone(
    idle_emu: EmulatorThread, idle_client: JobRouterClient
) -> None:
    add_worker(idle_client, "w", available=False)

    time.sleep(IDLE * 2.5)

    assert event_types(idle_emu, subject_contains="worker/w") == []


def test_by_default_a_worker_may_stay_idle_for_seven_days(
    emu: EmulatorThread, client: JobRouterClient
) -> None:
    add_worker(client, "w")

    state = emu.call(emu.emulator.router.timers.pending)
    (due,) = [when for key, when in state.items() if key == "idle:w"]
    registered = client.get_worker("w")
    assert registered.available_for_offers is True
    assert 7 * 86_400 - 60 <= (due - emu.emulator.router.now()).total_seconds() <= 7 * 86_400


def test_after_a_restart_the_idle_clock_goes_on_from_where_it_was(tmp_path: Path) -> None:
    config = EmulatorConfig(state_file=tmp_path / "state.sqlite", worker_idle_seconds=3.0)
    with EmulatorThread(config) as emu, router_client(emu) as client:
        registered = time.monotonic()
        add_worker(client, "w", queues=())
    time.sleep(1.5)  # stopped: half the idle time passes

    with EmulatorThread(config) as emu, router_client(emu) as client:
        resumed = time.monotonic()
        _deregistered(client, "w")
        done = time.monotonic()

    assert done - registered >= 3.0 * 0.9
    assert done - resumed < 2.5, "the idle clock started again on resume instead of going on"
