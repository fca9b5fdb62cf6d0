"""Offers via the real SDK: decline (with and without retryOfferAt), expiry, concurrent offers, 404/409."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import DeclineJobOfferOptions, RoundRobinMode
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from devstack.jobrouter import EmulatorThread
from tests.emulator.helpers import (
    add_job,
    add_worker,
    event_types,
    offers,
    response_text,
    setup_queue,
    wait_offer,
    wait_worker,
)


def test_decline_with_retry_offer_at_offers_the_job_again_after_that_time(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    add_job(client, "j")
    first = wait_offer(client, "w", "j")
    retry_at = datetime.now(UTC) + timedelta(seconds=1.5)

    client.decline_job_offer("w", first.offer_id, DeclineJobOfferOptions(retry_offer_at=retry_at))

    assert offers(client, "w") == []
    time.sleep(0.5)
    assert offers(client, "w") == [], "re-offered before retryOfferAt"
    second = wait_offer(client, "w", "j", timeout=5)
    assert second.offer_id != first.offer_id
    assert second.offered_at is not None
    assert second.offered_at >= retry_at.replace(microsecond=0)


def test_decline_without_retry_never_offers_that_worker_the_job_again(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")

    client.decline_job_offer("w", offer.offer_id)

    client.upsert_worker("w", {"labels": {"skill": "sales"}})  # forces another matching pass
    time.sleep(0.3)
    assert offers(client, "w") == []
    assert client.get_job("j").status == "queued"
    assert event_types(emu, subject_contains="worker/w/job/j") == [
        "RouterWorkerOfferIssued",
        "RouterWorkerOfferDeclined",
    ]


def test_a_declined_job_goes_to_another_worker_and_back_after_re_registration(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "a")
    add_job(client, "j")
    client.decline_job_offer("a", wait_offer(client, "a", "j").offer_id)
    add_worker(client, "b")
    b_offer = wait_offer(client, "b", "j")
    client.decline_job_offer("b", b_offer.offer_id)

    client.upsert_worker("a", {"availableForOffers": False})
    client.upsert_worker("a", {"availableForOffers": True})

    wait_offer(client, "a", "j")


def test_an_expired_offer_deregisters_the_worker(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, offer_expires_after_seconds=1.0)
    add_worker(client, "w")
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")

    worker = wait_worker(client, "w", lambda worker: worker.state == "inactive")

    assert worker.available_for_offers is False
    assert worker.offers == []
    assert client.get_job("j").status == "queued"
    with pytest.raises(ResourceNotFoundError):
        client.accept_job_offer("w", offer.offer_id)
    assert event_types(emu, subject_contains="worker/w")[-3:] == [
        "RouterWorkerOfferIssued",
        "RouterWorkerOfferExpired",
        "RouterWorkerDeregistered",
    ]


def test_an_expired_offer_goes_to_the_next_worker(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, offer_expires_after_seconds=1.0)
    add_worker(client, "a")
    add_job(client, "j")
    wait_offer(client, "a", "j")
    add_worker(client, "b")
    wait_offer(client, "b", "j", timeout=5)


def test_concurrent_offers_first_accept_wins_and_a_late_accept_conflicts(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, mode=RoundRobinMode(min_concurrent_offers=1, max_concurrent_offers=3))
    for worker_id in ("a", "b", "c"):
        add_worker(client, worker_id)
    add_job(client, "j")
    held = {w: wait_offer(client, w, "j") for w in ("a", "b", "c")}

    winner = client.accept_job_offer("b", held["b"].offer_id)

    assert winner.worker_id == "b"
    for loser in ("a", "c"):
        assert offers(client, loser) == []
        with pytest.raises(ResourceExistsError):
            client.accept_job_offer(loser, held[loser].offer_id)
    revoked = [e.subject for e in emu.events if e.event_type.endswith("RouterWorkerOfferRevoked")]
    assert sorted(revoked) == ["worker/a/job/j", "worker/c/job/j"]


def test_accepting_the_same_offer_twice_is_not_found(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")
    client.accept_job_offer("w", offer.offer_id)
    with pytest.raises(ResourceNotFoundError):
        client.accept_job_offer("w", offer.offer_id)


def test_declining_an_accepted_offer_is_not_found_with_the_services_message(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")
    client.accept_job_offer("w", offer.offer_id)
    with pytest.raises(ResourceNotFoundError) as raised:
        client.decline_job_offer("w", offer.offer_id)
    text = response_text(raised.value)
    assert f"DeclineOfferCommandHandler: Offer not found. OfferId: {offer.offer_id}, WorkerId: w" in text
    assert '"communicationError"' in text


@pytest.mark.parametrize(
    ("worker_id", "offer_id"),
    [("w", "00000000-0000-0000-0000-000000000000"), ("nobody", "00000000-0000-0000-0000-000000000000")],
    ids=["unknown-offer", "unknown-worker"],
)
def test_accepting_an_unknown_offer_is_not_found(
    admin: JobRouterAdministrationClient, client: JobRouterClient, worker_id: str, offer_id: str
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    with pytest.raises(ResourceNotFoundError):
        client.accept_job_offer(worker_id, offer_id)


def test_an_open_offer_counts_towards_the_load_ratio(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w", capacity=4, channels=[("voice", 1)])
    add_job(client, "j")
    wait_offer(client, "w", "j")
    assert client.get_worker("w").load_ratio == 0.25
