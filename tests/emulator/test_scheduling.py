"""Scheduled and suspended jobs via the real SDK (scheduleAndSuspend, suspend, re-queue by queueAndMatch)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    QueueAndMatchMode,
    RouterJob,
    ScheduleAndSuspendMode,
    SuspendMode,
)

from devstack.jobrouter import EmulatorThread
from tests.emulator.helpers import (
    add_job,
    add_worker,
    event_types,
    offers,
    setup_queue,
    wait_offer,
    wait_status,
)


def test_a_scheduled_job_waits_for_activation_at_its_time_and_queues_on_request(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    schedule_at = datetime.now(UTC) + timedelta(seconds=1)

    created = client.upsert_job(
        "j",
        RouterJob(
            channel_id="voice", queue_id="q", matching_mode=ScheduleAndSuspendMode(schedule_at=schedule_at)
        ),
    )

    assert created.status == "pendingSchedule"
    scheduled = wait_status(client, "j", "scheduled")
    assert scheduled.scheduled_at is not None
    assert offers(client, "w") == []
    waiting = wait_status(client, "j", "waitingForActivation", timeout=5)
    assert isinstance(waiting.matching_mode, ScheduleAndSuspendMode)
    assert waiting.matching_mode.schedule_at == schedule_at.replace(microsecond=schedule_at.microsecond)
    assert offers(client, "w") == []

    client.upsert_job("j", RouterJob(matching_mode=QueueAndMatchMode()))

    wait_offer(client, "w", "j")
    assert event_types(emu, subject_contains="job/j")[:4] == [
        "RouterJobReceived",
        "RouterJobWaitingForActivation",
        "RouterJobQueued",
        "RouterWorkerOfferIssued",
    ]
    received = emu.events[1] if emu.events[0].event_type.endswith("Registered") else emu.events[0]
    assert received.data["jobStatus"] == "PendingSchedule"
    assert received.data["unavailableForMatching"] is True
    assert "scheduledOn" in received.data


def test_a_suspended_job_is_not_matched_until_it_is_queued(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    client.upsert_job("j", RouterJob(channel_id="voice", queue_id="q", matching_mode=SuspendMode()))
    wait_status(client, "j", "waitingForActivation")
    time.sleep(0.1)
    assert offers(client, "w") == []

    client.upsert_job("j", {"matchingMode": {"kind": "queueAndMatch"}})
    wait_offer(client, "w", "j")


def test_suspending_a_queued_job_revokes_its_offer(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    add_job(client, "j")
    wait_offer(client, "w", "j")

    client.upsert_job("j", {"matchingMode": {"kind": "suspend"}})

    wait_status(client, "j", "waitingForActivation")
    assert offers(client, "w") == []


def test_queueing_a_scheduled_job_early_queues_it_at_once(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    far = datetime.now(UTC) + timedelta(hours=1)
    client.upsert_job(
        "j",
        RouterJob(channel_id="voice", queue_id="q", matching_mode=ScheduleAndSuspendMode(schedule_at=far)),
    )
    wait_status(client, "j", "scheduled")
    client.upsert_job("j", {"matchingMode": {"kind": "queueAndMatch"}})
    wait_offer(client, "w", "j")
