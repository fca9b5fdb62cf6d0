"""Events from the emulator to a loopback webhook, both schemas, per scenario; retries and dead-letter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.communication.jobrouter.models import CancelJobOptions, DeclineJobOfferOptions

from devstack.eventgrid_receiver import EventGridReceiverThread
from devstack.jobrouter import DEFAULT_TOPIC, EmulatorConfig, EmulatorThread
from devstack.jobrouter.eventgrid import Subscription
from devstack.polling import wait_until
from tests.emulator.helpers import add_job, add_worker, admin_client, router_client, setup_queue, wait_offer

SCHEMAS = ["eventgrid", "cloudevents"]


@pytest.fixture
def receiver() -> Iterator[EventGridReceiverThread]:
    with EventGridReceiverThread() as hook:
        yield hook


def running(receiver: EventGridReceiverThread, schema: str, **options: Any) -> EmulatorThread:
    subscription = Subscription(endpoint=receiver.url, schema=schema, **options)  # type: ignore[arg-type]
    return EmulatorThread(EmulatorConfig(webhooks=(subscription,)))


def data_of(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event["data"])


def by_type(events: list[dict[str, Any]], short: str) -> list[dict[str, Any]]:
    return [e for e in events if (e.get("eventType") or e.get("type")) == f"Microsoft.Communication.{short}"]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_the_lifecycle_scenario_delivers_its_events_in_order(
    receiver: EventGridReceiverThread, schema: str
) -> None:
    with running(receiver, schema) as emu, admin_client(emu) as admin, router_client(emu) as client:
        setup_queue(admin)
        add_worker(client, "w", labels={"lang": "en"})
        add_job(client, "j", priority=3, channel_reference="call-1", labels={"vip": True}, tags={"t": "x"})
        offer = wait_offer(client, "w", "j")
        assignment = client.accept_job_offer("w", offer.offer_id).assignment_id
        client.complete_job("j", assignment)
        client.close_job("j", assignment)
        events = receiver.wait_for_events(7, timeout=10)
    assert receiver.event_types() == [
        "RouterWorkerRegistered",
        "RouterJobReceived",
        "RouterJobQueued",
        "RouterWorkerOfferIssued",
        "RouterWorkerOfferAccepted",
        "RouterJobCompleted",
        "RouterJobClosed",
    ]
    assert all(r.headers["aeg-event-type"] == "Notification" for r in receiver.notifications())
    assert receiver.validations(), "the subscription was validated first"

    issued = by_type(events, "RouterWorkerOfferIssued")[0]
    assert issued["subject"] == "worker/w/job/j"
    if schema == "eventgrid":
        assert (issued["topic"], issued["dataVersion"], issued["metadataVersion"]) == (
            DEFAULT_TOPIC,
            "1.0",
            "1",
        )
    else:
        assert (issued["source"], issued["specversion"]) == (DEFAULT_TOPIC, "1.0")
    data = data_of(issued)
    assert {
        k: data[k]
        for k in ("workerId", "jobId", "channelReference", "channelId", "queueId", "offerId", "jobPriority")
    } == {
        "workerId": "w",
        "jobId": "j",
        "channelReference": "call-1",
        "channelId": "voice",
        "queueId": "q",
        "offerId": offer.offer_id,
        "jobPriority": 3,
    }
    assert data["offeredOn"].endswith("Z")
    assert data["expiresOn"].endswith("Z")
    assert (data["jobLabels"], data["jobTags"], data["workerLabels"]) == (
        {"vip": True},
        {"t": "x"},
        {"lang": "en", "Id": "w"},
    )

    accepted = data_of(by_type(events, "RouterWorkerOfferAccepted")[0])
    assert accepted["assignmentId"] == assignment
    closed = by_type(events, "RouterJobClosed")[0]
    assert closed["subject"] == f"job/j/channel/voice/assignment/{assignment}"
    assert (data_of(closed)["workerId"], data_of(closed)["dispositionCode"]) == ("w", "Closed")
    received = data_of(by_type(events, "RouterJobReceived")[0])
    assert (received["jobStatus"], received["unavailableForMatching"], received["priority"]) == (
        "Created",
        False,
        3,
    )
    registered = data_of(by_type(events, "RouterWorkerRegistered")[0])
    assert registered["queueAssignments"] == [{"id": "q", "labels": {"Id": "q"}}]
    assert registered["channelConfigurations"] == [{"channelId": "voice", "capacityCostPerJob": 1}]
    assert registered["totalCapacity"] == 1


@pytest.mark.parametrize("schema", SCHEMAS)
def test_decline_then_expiry_delivers_declined_expired_and_deregistered(
    receiver: EventGridReceiverThread, schema: str
) -> None:
    with running(receiver, schema) as emu, admin_client(emu) as admin, router_client(emu) as client:
        setup_queue(admin, offer_expires_after_seconds=1.0)
        add_worker(client, "w")
        add_job(client, "j")
        first = wait_offer(client, "w", "j")
        client.decline_job_offer(
            "w", first.offer_id, DeclineJobOfferOptions(retry_offer_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
        wait_offer(client, "w", "j")
        wait_until(lambda: client.get_worker("w").state == "inactive", timeout=5)
        receiver.wait_for_events(8, timeout=10)
    assert receiver.event_types() == [
        "RouterWorkerRegistered",
        "RouterJobReceived",
        "RouterJobQueued",
        "RouterWorkerOfferIssued",
        "RouterWorkerOfferDeclined",
        "RouterWorkerOfferIssued",
        "RouterWorkerOfferExpired",
        "RouterWorkerDeregistered",
    ]
    expired = by_type(receiver.events(), "RouterWorkerOfferExpired")[0]
    assert set(data_of(expired)) == {"workerId", "jobId", "channelId", "queueId", "offerId"}


@pytest.mark.parametrize("schema", SCHEMAS)
def test_cancel_delivers_revoked_and_cancelled_with_the_disposition_subject(
    receiver: EventGridReceiverThread, schema: str
) -> None:
    with running(receiver, schema) as emu, admin_client(emu) as admin, router_client(emu) as client:
        setup_queue(admin)
        add_worker(client, "w")
        add_job(client, "j")
        wait_offer(client, "w", "j")
        client.cancel_job("j", CancelJobOptions(disposition_code="Abandoned", note="hung up"))
        receiver.wait_for_events(6, timeout=10)
    assert receiver.event_types()[-2:] == ["RouterWorkerOfferRevoked", "RouterJobCancelled"]
    cancelled = by_type(receiver.events(), "RouterJobCancelled")[0]
    assert cancelled["subject"] == "job/j/channel/voice/disposition/Abandoned"
    assert (data_of(cancelled)["dispositionCode"], data_of(cancelled)["note"]) == ("Abandoned", "hung up")


def test_a_type_filter_delivers_only_the_chosen_types(receiver: EventGridReceiverThread) -> None:
    subscription = Subscription.parse(receiver.url + "#types=RouterWorkerOfferIssued,RouterJobQueued")
    with (
        EmulatorThread(EmulatorConfig(webhooks=(subscription,))) as emu,
        admin_client(emu) as admin,
        router_client(emu) as client,
    ):
        setup_queue(admin)
        add_worker(client, "w")
        add_job(client, "j")
        wait_offer(client, "w", "j")
        receiver.wait_for_events(2, timeout=10)
        assert emu.drain_events(5)
    assert receiver.event_types() == ["RouterJobQueued", "RouterWorkerOfferIssued"]


def test_a_failing_webhook_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    with EventGridReceiverThread(default=500) as receiver:
        subscription = Subscription(
            endpoint=receiver.url, max_delivery_attempts=3, retry_scale=0.005, dead_letter_path=dead
        )
        with EmulatorThread(EmulatorConfig(webhooks=(subscription,))) as emu, router_client(emu) as client:
            add_worker(client, "w", queues=[])
            assert emu.drain_events(10)
        attempts = receiver.notifications()
    assert [r.delivery_count for r in attempts] == [0, 1, 2]
    lines = [json.loads(line) for line in dead.read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["eventType"] == "Microsoft.Communication.RouterWorkerRegistered"
    assert lines[0]["deliveryAttempts"] == 3
    assert lines[0]["lastHttpStatusCode"] == 500


def test_a_webhook_that_recovers_gets_the_event_after_retries(receiver: EventGridReceiverThread) -> None:
    receiver.set_answers([503, 503])
    subscription = Subscription(endpoint=receiver.url, retry_scale=0.005)
    with EmulatorThread(EmulatorConfig(webhooks=(subscription,))) as emu, router_client(emu) as client:
        add_worker(client, "w", queues=[])
        assert emu.drain_events(10)
    assert [r.status for r in receiver.notifications()] == [503, 503, 200]
    assert receiver.event_types() == ["RouterWorkerRegistered"]
