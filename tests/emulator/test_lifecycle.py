"""Job lifecycle via the real sync SDK: queue -> offer -> accept -> complete -> close, and side paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    CancelJobOptions,
    CloseJobOptions,
    CompleteJobOptions,
    UnassignJobOptions,
)
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from tests.emulator.helpers import (
    add_job,
    add_worker,
    admin_client,
    event_types,
    offers,
    router_client,
    setup_queue,
    wait_offer,
    wait_status,
)


@pytest.fixture
def ready(admin: JobRouterAdministrationClient, client: JobRouterClient) -> JobRouterClient:
    """A longest-idle queue ``q`` with one available worker ``w`` (capacity 1, channel voice)."""
    setup_queue(admin)
    add_worker(client, "w")
    return client


def test_full_lifecycle_from_job_to_closed(emu: EmulatorThread, ready: JobRouterClient) -> None:
    client = ready
    created = add_job(client, "j", priority=5)
    assert created.status == "created"

    offer = wait_offer(client, "w", "j")
    assert client.get_job("j").status == "queued"
    worker = client.get_worker("w")
    assert worker.load_ratio == 1
    assert offer.capacity_cost == 1
    assert offer.expires_at is not None
    assert offer.offered_at is not None
    assert offer.expires_at - offer.offered_at == timedelta(seconds=60)

    accepted = client.accept_job_offer("w", offer.offer_id)
    assert (accepted.job_id, accepted.worker_id) == ("j", "w")
    job = client.get_job("j")
    assert job.status == "assigned"
    assert job.assignments is not None
    assert job.assignments[accepted.assignment_id].worker_id == "w"
    assert (client.get_worker("w").assigned_jobs or [])[0].job_id == "j"

    client.complete_job("j", accepted.assignment_id, CompleteJobOptions(note="done"))
    assert client.get_job("j").status == "completed"
    assert client.get_worker("w").load_ratio == 1  # wrap-up holds capacity until close

    client.close_job("j", accepted.assignment_id)
    job = client.get_job("j")
    assert job.status == "closed"
    assert job.disposition_code == "Closed"
    assert job.assignments is not None
    assignment = job.assignments[accepted.assignment_id]
    assert assignment.completed_at is not None
    assert assignment.closed_at is not None
    assert assignment.assigned_at <= assignment.completed_at <= assignment.closed_at
    assert client.get_worker("w").load_ratio == 0
    assert [n.message for n in job.notes or []] == ["done"]

    assert event_types(emu, subject_contains="job/j") == [
        "RouterJobReceived",
        "RouterJobQueued",
        "RouterWorkerOfferIssued",
        "RouterWorkerOfferAccepted",
        "RouterJobCompleted",
        "RouterJobClosed",
    ]


def test_delete_returns_no_content_and_then_the_job_is_gone(ready: JobRouterClient) -> None:
    client = ready
    add_job(client, "j")
    wait_offer(client, "w", "j")
    client.cancel_job("j")
    client.delete_job("j")  # the SDK raises unless the status is exactly 204
    with pytest.raises(ResourceNotFoundError):
        client.get_job("j")
    client.delete_job("j")  # already gone: still 204


def test_deleting_an_active_job_is_a_conflict(ready: JobRouterClient) -> None:
    add_job(ready, "j")
    wait_status(ready, "j", "queued")
    with pytest.raises(ResourceExistsError):
        ready.delete_job("j")


def test_cancel_revokes_the_open_offer_and_records_the_disposition(
    emu: EmulatorThread, ready: JobRouterClient
) -> None:
    client = ready
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")
    client.cancel_job("j", CancelJobOptions(disposition_code="Abandoned", note="caller hung up"))
    job = client.get_job("j")
    assert (job.status, job.disposition_code) == ("cancelled", "Abandoned")
    assert offers(client, "w") == []
    with pytest.raises(ResourceNotFoundError):
        client.accept_job_offer("w", offer.offer_id)
    assert event_types(emu, subject_contains="job/j")[-2:] == [
        "RouterWorkerOfferRevoked",
        "RouterJobCancelled",
    ]


def test_cancel_without_a_disposition_code_uses_cancelled(ready: JobRouterClient) -> None:
    add_job(ready, "j")
    wait_status(ready, "j", "queued")
    ready.cancel_job("j")
    assert ready.get_job("j").disposition_code == "Cancelled"


def test_unassign_requeues_the_job_and_offers_it_again(emu: EmulatorThread, ready: JobRouterClient) -> None:
    client = ready
    add_job(client, "j")
    first = wait_offer(client, "w", "j")
    assignment = client.accept_job_offer("w", first.offer_id).assignment_id

    result = client.unassign_job("j", assignment)

    assert (result.job_id, result.unassignment_count) == ("j", 1)
    second = wait_offer(client, "w", "j")
    assert second.offer_id != first.offer_id
    job = client.get_job("j")
    assert job.status == "queued"
    assert assignment not in (job.assignments or {})
    assert "RouterJobUnassigned" in event_types(emu, subject_contains="job/j")


def test_unassign_with_suspend_matching_waits_for_activation(
    emu: EmulatorThread, ready: JobRouterClient
) -> None:
    client = ready
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")
    assignment = client.accept_job_offer("w", offer.offer_id).assignment_id

    client.unassign_job("j", assignment, UnassignJobOptions(suspend_matching=True))

    assert client.get_job("j").status == "waitingForActivation"
    assert offers(client, "w") == []
    assert event_types(emu, subject_contains="job/j")[-2:] == [
        "RouterJobUnassigned",
        "RouterJobWaitingForActivation",
    ]

    client.upsert_job("j", {"matchingMode": {"kind": "queueAndMatch"}})
    wait_offer(client, "w", "j")


def test_close_with_close_at_releases_capacity_at_that_time(ready: JobRouterClient) -> None:
    client = ready
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")
    assignment = client.accept_job_offer("w", offer.offer_id).assignment_id
    client.complete_job("j", assignment)

    client.close_job("j", assignment, CloseJobOptions(close_at=datetime.now(UTC) + timedelta(seconds=1)))

    assert client.get_job("j").status == "completed"
    assert client.get_worker("w").load_ratio == 1
    job = wait_status(client, "j", "closed", timeout=5)
    assert job.assignments is not None
    assert job.assignments[assignment].closed_at is not None
    assert client.get_worker("w").load_ratio == 0


def test_completing_twice_is_a_bad_request(ready: JobRouterClient) -> None:
    client = ready
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")
    assignment = client.accept_job_offer("w", offer.offer_id).assignment_id
    client.complete_job("j", assignment)
    with pytest.raises(HttpResponseError) as raised:
        client.complete_job("j", assignment)
    assert raised.value.status_code == 400


def test_an_unknown_assignment_is_not_found(ready: JobRouterClient) -> None:
    add_job(ready, "j")
    wait_status(ready, "j", "queued")
    with pytest.raises(ResourceNotFoundError):
        ready.complete_job("j", "no-such-assignment")


def test_deregistering_a_worker_revokes_its_offers_and_a_busy_worker_drains(
    emu: EmulatorThread, ready: JobRouterClient
) -> None:
    client = ready
    add_worker(client, "w", capacity=2)
    add_job(client, "j1")
    offer = wait_offer(client, "w", "j1")
    client.accept_job_offer("w", offer.offer_id)
    add_job(client, "j2")
    wait_offer(client, "w", "j2")

    worker = client.upsert_worker("w", {"availableForOffers": False})

    assert worker.state == "draining"
    assert offers(client, "w") == []
    assert event_types(emu, subject_contains="worker/w")[-2:] == [
        "RouterWorkerOfferRevoked",
        "RouterWorkerDeregistered",
    ]


def test_deleting_a_worker_with_an_assigned_job_is_a_conflict(ready: JobRouterClient) -> None:
    add_job(ready, "j")
    offer = wait_offer(ready, "w", "j")
    ready.accept_job_offer("w", offer.offer_id)
    with pytest.raises(ResourceExistsError):
        ready.delete_worker("w")


def test_deleting_a_queue_with_an_active_job_is_a_conflict(
    admin: JobRouterAdministrationClient, ready: JobRouterClient
) -> None:
    add_job(ready, "j")
    wait_status(ready, "j", "queued")
    with pytest.raises(ResourceExistsError) as raised:
        admin.delete_queue("q")
    assert "There is active job with this queue" in str(raised.value)


def test_queue_statistics_and_position(admin: JobRouterAdministrationClient, client: JobRouterClient) -> None:
    setup_queue(admin)  # no workers: jobs stay queued
    add_job(client, "low", priority=1)
    add_job(client, "high", priority=9)
    wait_status(client, "low", "queued")
    wait_status(client, "high", "queued")

    stats = client.get_queue_statistics("q")
    position = client.get_queue_position("low")

    assert (stats.queue_id, stats.length) == ("q", 2)
    assert stats.longest_job_wait_time_minutes is not None
    assert (position.job_id, position.queue_id, position.position, position.queue_length) == (
        "low",
        "q",
        2,
        2,
    )
    assert client.get_queue_position("high").position == 1


def test_changing_a_registered_worker_publishes_worker_updated(
    emu: EmulatorThread, ready: JobRouterClient
) -> None:
    ready.upsert_worker("w", {"labels": {"lang": "en"}, "capacity": 2})
    updated = [e for e in emu.events if e.event_type.endswith("RouterWorkerUpdated")]
    assert len(updated) == 1
    assert updated[0].subject == "worker/w"
    assert updated[0].data["updatedWorkerProperties"] == ["TotalCapacity", "Labels"]
    assert updated[0].data["labels"] == {"Id": "w", "lang": "en"}


def test_a_job_can_be_unassigned_at_most_three_times(ready: JobRouterClient) -> None:
    client = ready
    add_job(client, "j")
    for count in range(1, 5):
        offer = wait_offer(client, "w", "j")
        assignment = client.accept_job_offer("w", offer.offer_id).assignment_id
        if count <= 3:
            assert client.unassign_job("j", assignment).unassignment_count == count
        else:
            with pytest.raises(HttpResponseError) as raised:
                client.unassign_job("j", assignment)
            assert raised.value.status_code == 400


def test_with_a_processing_delay_an_unassigned_job_shows_assigned_until_processed() -> None:
    with (
        EmulatorThread(EmulatorConfig(processing_delay=0.5)) as emu,
        admin_client(emu) as admin,
        router_client(emu) as client,
    ):
        setup_queue(admin)
        add_worker(client, "w")
        add_job(client, "j")
        assert client.get_job("j").status == "created"  # as recorded: processing takes a moment
        first = wait_offer(client, "w", "j")
        assignment = client.accept_job_offer("w", first.offer_id).assignment_id

        client.unassign_job("j", assignment)

        worker = client.get_worker("w")  # as recorded: still assigned, no offer yet
        assert ([a.assignment_id for a in worker.assigned_jobs or []], worker.offers) == ([assignment], [])
        assert client.get_job("j").status == "assigned"
        with pytest.raises(ResourceNotFoundError):
            client.complete_job("j", assignment)
        second = wait_offer(client, "w", "j", timeout=5)
        assert second.offer_id != first.offer_id
        assert client.get_worker("w").assigned_jobs == []
