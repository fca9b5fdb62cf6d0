"""Spec for devstack.jobrouter.eventgrid.EventPublisher against a real loopback webhook.

Wire shape and headers of both schemas, the validation handshake, type filters, retries, dead-lettering,
the duplicate and reorder knobs, drain and close. Retry schedules are compressed with ``retry_scale``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.eventgrid_receiver import Answer, EventGridReceiver
from devstack.jobrouter import event_payloads as ev
from devstack.jobrouter import event_types
from devstack.jobrouter.eventgrid import (
    DeliveryOutcome,
    EventPublisher,
    Subscription,
    ValidationState,
)
from tests.emulator.eventgrid_helpers import TOPIC, publishing, run_async, worker_event

EVENT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z")
FAST: dict[str, Any] = {"retry_schedule": (1.0,), "retry_scale": 0.01}  # every retry after 10 ms
T0 = datetime(2024, 3, 5, 10, 15, 2, tzinfo=UTC)


def offer_issued() -> event_types.RouterEvent:
    return ev.offer_issued(
        ev.OfferRef(
            worker_id="w1",
            job_id="j1",
            offer_id="o1",
            channel_reference="call-1",
            channel_id="voice",
            queue_id="q1",
        ),
        job_priority=1,
        offered_on=T0,
        expires_on=T0 + timedelta(seconds=60),
        job_labels={"vip": True},
    )


def worker_ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["workerId"] for e in events]


# ------------------------------------------------------------------------------------------ wire shape


@run_async
async def test_event_grid_schema_is_a_one_element_array_with_the_documented_envelope() -> None:
    async with EventGridReceiver() as receiver, publishing(Subscription(receiver.url)) as publisher:
        publisher.publish(offer_issued())
        await receiver.wait_for_events(1, timeout=5)
    (request,) = receiver.notifications()
    body = request.json()
    assert isinstance(body, list)
    assert len(body) == 1
    event = body[0]
    assert set(event) == {
        "id",
        "topic",
        "subject",
        "data",
        "eventType",
        "dataVersion",
        "metadataVersion",
        "eventTime",
    }
    assert event["topic"] == TOPIC
    assert event["subject"] == "worker/w1/job/j1"
    assert event["eventType"] == "Microsoft.Communication.RouterWorkerOfferIssued"
    assert (event["dataVersion"], event["metadataVersion"]) == ("1.0", "1")
    assert event["data"] == offer_issued().data
    assert uuid.UUID(event["id"]).version == 4
    assert EVENT_TIME.fullmatch(event["eventTime"])
    assert event == json.loads(json.dumps(publisher.event_log[0].to_eventgrid()))


@run_async
async def test_event_grid_delivery_carries_event_grid_headers() -> None:
    async with (
        EventGridReceiver() as receiver,
        publishing(Subscription(receiver.url, name="offers")) as publisher,
    ):
        publisher.publish(offer_issued())
        await receiver.wait_for_events(1, timeout=5)
    headers = receiver.notifications()[0].headers
    assert headers["content-type"] == "application/json"
    assert headers["aeg-event-type"] == "Notification"
    assert headers["aeg-subscription-name"] == "OFFERS"
    assert headers["aeg-delivery-count"] == "0"
    assert headers["aeg-data-version"] == "1.0"
    assert headers["aeg-metadata-version"] == "1"


@run_async
async def test_cloudevents_schema_is_one_structured_json_object() -> None:
    async with (
        EventGridReceiver() as receiver,
        publishing(Subscription(receiver.url, schema="cloudevents")) as publisher,
    ):
        publisher.publish(offer_issued())
        await receiver.wait_for_events(1, timeout=5)
    (request,) = receiver.notifications()
    event = request.json()
    assert isinstance(event, dict)
    assert set(event) == {"specversion", "id", "source", "subject", "type", "time", "datacontenttype", "data"}
    assert event["specversion"] == "1.0"
    assert event["source"] == TOPIC
    assert event["subject"] == "worker/w1/job/j1"
    assert event["type"] == "Microsoft.Communication.RouterWorkerOfferIssued"
    assert event["datacontenttype"] == "application/json"
    assert event["data"] == offer_issued().data
    assert EVENT_TIME.fullmatch(event["time"])
    assert request.headers["content-type"].startswith("application/cloudevents+json")
    assert request.headers["aeg-event-type"] == "Notification"
    assert request.headers["aeg-delivery-count"] == "0"


@run_async
async def test_event_time_strictly_increases_in_publish_order() -> None:
    async with EventGridReceiver() as receiver, publishing(Subscription(receiver.url)) as publisher:
        for i in range(50):
            publisher.publish(worker_event(i))
        events = await receiver.wait_for_events(50, timeout=5)
    log_times = [e.event_time for e in publisher.event_log]
    assert all(a < b for a, b in itertools.pairwise(log_times))
    by_time = sorted(events, key=lambda e: e["eventTime"])
    assert worker_ids(by_time) == [f"w{i}" for i in range(50)]


def test_event_time_stays_unique_when_the_clock_does_not_move() -> None:
    publisher = EventPublisher([], topic=TOPIC, clock=lambda: T0)
    for i in range(3):
        publisher.publish(worker_event(i))
    assert [e.event_time for e in publisher.event_log] == [T0 + timedelta(microseconds=i) for i in range(3)]


# ------------------------------------------------------------------------------------------- handshake


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
@run_async
async def test_handshake_comes_first_and_is_validated_by_echoing_the_code(schema: str) -> None:
    async with (
        EventGridReceiver() as receiver,
        publishing(Subscription(receiver.url, schema=schema)) as publisher,  # type: ignore[arg-type]
    ):
        assert publisher.validation_state() == {"WEBHOOK1": ValidationState.VALIDATED}
        publisher.publish(worker_event(1))
        await receiver.wait_for_events(1, timeout=5)
    first, second = receiver.requests
    assert first.is_validation
    assert second.is_notification
    assert first.headers["aeg-event-type"] == "SubscriptionValidation"
    (validation_event,) = first.events
    event_type = validation_event.get("eventType") or validation_event.get("type")
    assert event_type == "Microsoft.EventGrid.SubscriptionValidationEvent"
    assert isinstance(validation_event["data"]["validationCode"], str)
    assert validation_event["data"]["validationCode"]


@pytest.mark.parametrize("mode", ["reject", "wrong-code"])
@run_async
async def test_failed_handshake_holds_events_until_a_retry_validates(mode: str) -> None:
    async with (
        EventGridReceiver(validation=mode) as receiver,  # type: ignore[arg-type]
        publishing(Subscription(receiver.url), validation_retry_interval=0.05) as publisher,
    ):
        assert publisher.validation_state() == {"WEBHOOK1": ValidationState.FAILED}
        publisher.publish(worker_event(1))
        assert not await publisher.drain(0.2)
        assert receiver.notifications() == []
        receiver.set_validation("answer")
        assert await publisher.wait_validated(timeout=5)
        await receiver.wait_for_events(1, timeout=5)
        assert await publisher.drain(5)
    assert len(receiver.validations()) >= 2


@run_async
async def test_failed_handshake_is_logged_once_without_the_query(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="devstack.jobrouter.eventgrid")
    async with (
        EventGridReceiver(validation="reject") as receiver,
        publishing(Subscription(receiver.url + "?code=S3CRET"), validation_retry_interval=0.02),
    ):
        await asyncio.sleep(0.15)
    messages = [r.getMessage() for r in caplog.records if "SubscriptionValidation" in r.getMessage()]
    assert len(messages) == 1
    assert "HTTP 403" in messages[0]
    assert "S3CRET" not in caplog.text


@run_async
async def test_events_waiting_for_validation_expire_with_their_ttl(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    async with EventGridReceiver(validation="reject") as receiver:
        sub = Subscription(receiver.url, event_ttl=1, retry_scale=0.003, dead_letter_path=dead)
        async with publishing(sub, validation_retry_interval=0.05) as publisher:
            publisher.publish(worker_event(1))
            assert await publisher.drain(5)
    (line,) = dead.read_text().splitlines()
    assert json.loads(line)["deadLetterReason"] == "TimeToLiveExceeded"
    assert json.loads(line)["deliveryAttempts"] == 0


@run_async
async def test_subscription_without_handshake_is_delivered_straight_away() -> None:
    async with (
        EventGridReceiver(validation="reject") as receiver,
        publishing(Subscription(receiver.url, handshake=False)) as publisher,
    ):
        publisher.publish(worker_event(1))
        await receiver.wait_for_events(1, timeout=5)
    assert receiver.validations() == []


# ----------------------------------------------------------------------------------------- type filters


@run_async
async def test_type_filter_delivers_only_the_included_types() -> None:
    async with EventGridReceiver() as everything, EventGridReceiver() as offers_only:
        subs = (
            Subscription(everything.url, name="all"),
            Subscription.parse(offers_only.url + "#types=RouterWorkerOfferIssued&name=offers"),
        )
        async with publishing(*subs) as publisher:
            publisher.publish(worker_event(1))
            publisher.publish(offer_issued())
            publisher.publish(ev.job_deleted(ev.JobRef(job_id="j1", channel_id="voice")))
            await everything.wait_for_events(3, timeout=5)
            await offers_only.wait_for_events(1, timeout=5)
            assert await publisher.drain(5)
    assert everything.event_types() == [
        "RouterWorkerDeregistered",
        "RouterWorkerOfferIssued",
        "RouterJobDeleted",
    ]
    assert offers_only.event_types() == ["RouterWorkerOfferIssued"]
    assert publisher.stats().deliveries == 4


# --------------------------------------------------------------------------------------------- retries


@run_async
async def test_failed_delivery_is_retried_until_it_succeeds() -> None:
    async with (
        EventGridReceiver(answers=[500, 503]) as receiver,
        publishing(Subscription(receiver.url, **FAST)) as publisher,
    ):
        publisher.publish(worker_event(1))
        assert await publisher.drain(5)
    assert [r.delivery_count for r in receiver.notifications()] == [0, 1, 2]
    assert [r.status for r in receiver.notifications()] == [500, 503, 200]
    (record,) = publisher.deliveries()
    assert (record.attempts, record.outcome, record.last_status) == (3, DeliveryOutcome.DELIVERED, 200)
    stats = publisher.stats()
    assert (stats.attempts, stats.successes, stats.failures) == (3, 1, 2)


@run_async
async def test_retries_wait_the_scaled_schedule() -> None:
    async with EventGridReceiver(answers=[500, 500]) as receiver:
        sub = Subscription(receiver.url, retry_schedule=(1.0, 3.0), retry_scale=0.1)
        async with publishing(sub) as publisher:
            publisher.publish(worker_event(1))
            assert await publisher.drain(5)
    first, second, third = (r.arrived_at for r in receiver.notifications())
    assert 0.09 <= second - first < 0.6
    assert 0.29 <= third - second < 0.9


@pytest.mark.parametrize("status", [404, 408, 409, 429, 500, 502, 503])
@run_async
async def test_retriable_statuses_are_retried(status: int) -> None:
    async with (
        EventGridReceiver(answers=[status]) as receiver,
        publishing(Subscription(receiver.url, **FAST)) as publisher,
    ):
        publisher.publish(worker_event(1))
        assert await publisher.drain(5)
    assert [r.status for r in receiver.notifications()] == [status, 200]


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (400, "UndeliverableDueToHttpBadRequest", "BadRequest"),
        (401, "UndeliverableDueToHttpUnauthorized", "Unauthorized"),
        (403, "UndeliverableDueToHttpForbidden", "Forbidden"),
        (413, "UndeliverableDueToHttpRequestEntityTooLarge", "RequestEntityTooLarge"),
    ],
    ids=["400", "401", "403", "413"],
)
@run_async
async def test_non_retriable_status_is_dead_lettered_at_once(
    tmp_path: Path, status: int, reason: str, outcome: str
) -> None:
    dead = tmp_path / "dead.jsonl"
    async with (
        EventGridReceiver(default=status) as receiver,
        publishing(Subscription(receiver.url, dead_letter_path=dead, **FAST)) as publisher,
    ):
        publisher.publish(worker_event(1))
        assert await publisher.drain(5)
    assert len(receiver.notifications()) == 1
    line = json.loads(dead.read_text())
    assert (line["deadLetterReason"], line["lastDeliveryOutcome"], line["lastHttpStatusCode"]) == (
        reason,
        outcome,
        status,
    )
    assert line["deliveryAttempts"] == 1


@run_async
async def test_exhausted_retries_write_the_event_and_its_history_to_the_dead_letter_file(
    tmp_path: Path,
) -> None:
    dead = tmp_path / "sub" / "dead.jsonl"
    async with EventGridReceiver(default=500) as receiver:
        sub = Subscription(
            receiver.url, max_delivery_attempts=3, dead_letter_path=dead, name="offers", **FAST
        )
        async with publishing(sub) as publisher:
            publisher.publish(offer_issued())
            assert await publisher.drain(5)
    assert len(receiver.notifications()) == 3
    (raw,) = dead.read_text().splitlines()
    line = json.loads(raw)
    published = json.loads(json.dumps(publisher.event_log[0].to_eventgrid()))
    assert {k: line[k] for k in published} == published
    assert line["deadLetterReason"] == "MaxDeliveryAttemptsExceeded"
    assert line["deliveryAttempts"] == 3
    assert line["lastDeliveryOutcome"] == "InternalServerError"
    assert line["lastHttpStatusCode"] == 500
    assert line["subscriptionName"] == "OFFERS"
    for key in ("deadLetteredTime", "publishTime", "lastDeliveryAttemptTime"):
        assert EVENT_TIME.fullmatch(line[key]), key
    (record,) = publisher.deliveries()
    assert (record.outcome, record.dead_letter_reason) == (
        DeliveryOutcome.DEAD_LETTERED,
        "MaxDeliveryAttemptsExceeded",
    )
    assert publisher.stats().dead_lettered == 1


@run_async
async def test_cloudevents_dead_letter_line_keeps_the_cloudevents_shape(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    async with EventGridReceiver(default=400) as receiver:
        sub = Subscription(receiver.url, schema="cloudevents", dead_letter_path=dead)
        async with publishing(sub) as publisher:
            publisher.publish(worker_event(1))
            assert await publisher.drain(5)
    line = json.loads(dead.read_text())
    assert line["specversion"] == "1.0"
    assert line["type"] == event_types.WORKER_DEREGISTERED


@run_async
async def test_ttl_ends_retries_before_the_attempt_limit(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    async with EventGridReceiver(default=503) as receiver:
        # TTL 1 min and retries every 20 s, compressed 200x: 0.3 s of life, a retry every 0.1 s.
        sub = Subscription(
            receiver.url, event_ttl=1, retry_schedule=(20.0,), retry_scale=0.005, dead_letter_path=dead
        )
        async with publishing(sub) as publisher:
            started = time.monotonic()
            publisher.publish(worker_event(1))
            assert await publisher.drain(5)
            elapsed = time.monotonic() - started
    line = json.loads(dead.read_text())
    assert line["deadLetterReason"] == "TimeToLiveExceeded"
    assert 2 <= line["deliveryAttempts"] <= 4
    assert elapsed >= 0.29


@run_async
async def test_a_timeout_counts_as_a_failure_and_is_retried() -> None:
    async with (
        EventGridReceiver(answers=[Answer(200, delay=0.5)]) as receiver,
        publishing(Subscription(receiver.url, delivery_timeout=0.1, **FAST)) as publisher,
    ):
        publisher.publish(worker_event(1))
        assert await publisher.drain(5)
    (record,) = publisher.deliveries()
    assert (record.attempts, record.outcome) == (2, DeliveryOutcome.DELIVERED)
    assert [r.delivery_count for r in receiver.notifications()] == [0, 1]


@run_async
async def test_unreachable_endpoint_is_retried_then_dead_lettered_without_raising(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    async with EventGridReceiver() as receiver:
        url = receiver.url
    # the receiver is closed: nothing listens on its port any more
    sub = Subscription(url, handshake=False, max_delivery_attempts=2, dead_letter_path=dead, **FAST)
    async with publishing(sub) as publisher:
        publisher.publish(worker_event(1))
        assert await publisher.drain(5)
    line = json.loads(dead.read_text())
    assert (line["deliveryAttempts"], line["lastDeliveryOutcome"], line["lastHttpStatusCode"]) == (
        2,
        "GenericError",
        None,
    )


@run_async
async def test_undeliverable_event_without_dead_letter_file_is_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="devstack.jobrouter.eventgrid")
    async with EventGridReceiver(default=500) as receiver:
        sub = Subscription(receiver.url + "?code=S3CRET", max_delivery_attempts=2, **FAST)
        async with publishing(sub) as publisher:
            publisher.publish(worker_event(1))
            assert await publisher.drain(5)
    event_id = publisher.event_log[0].id
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1
    assert event_id in dropped[0].getMessage()
    assert event_types.WORKER_DEREGISTERED in dropped[0].getMessage()
    assert "500" in dropped[0].getMessage()
    assert "S3CRET" not in caplog.text
    assert publisher.stats().dropped == 1


# -------------------------------------------------------------------------------------------- knobs


@run_async
async def test_duplicate_fraction_sends_about_that_share_of_events_twice() -> None:
    async with (
        EventGridReceiver() as receiver,
        publishing(Subscription(receiver.url), duplicate_fraction=0.25, seed=3) as publisher,
    ):
        for i in range(200):
            publisher.publish(worker_event(i))
        assert await publisher.drain(10)
    copies = Counter(e["id"] for e in receiver.events())
    assert len(copies) == 200
    assert set(copies.values()) <= {1, 2}
    twice = sum(1 for n in copies.values() if n == 2)
    assert twice == publisher.stats().duplicates
    assert 25 <= twice <= 75  # expected 50; the seed makes it reproducible


@run_async
async def test_duplicates_are_delivered_independently() -> None:
    async with (
        EventGridReceiver(answers=[500]) as receiver,
        publishing(Subscription(receiver.url, **FAST), duplicate_fraction=1.0) as publisher,
    ):
        publisher.publish(worker_event(1))
        assert await publisher.drain(5)
    records = publisher.deliveries(publisher.event_log[0].id)
    assert sorted(r.attempts for r in records) == [1, 2]
    assert {r.outcome for r in records} == {DeliveryOutcome.DELIVERED}
    assert len({e["id"] for e in receiver.events()}) == 1


@run_async
async def test_reorder_window_releases_held_events_in_shuffled_order() -> None:
    async with EventGridReceiver() as receiver:
        sub = Subscription(receiver.url)
        async with publishing(sub, reorder_window=0.1, seed=7, max_concurrency=1) as publisher:
            for i in range(30):
                publisher.publish(worker_event(i))
            events = await receiver.wait_for_events(30, timeout=5)
    in_order = [f"w{i}" for i in range(30)]
    assert worker_ids(events) != in_order
    assert sorted(worker_ids(events)) == sorted(in_order)
    assert worker_ids(sorted(events, key=lambda e: e["eventTime"])) == in_order


@run_async
async def test_without_reorder_a_single_lane_delivers_in_publish_order() -> None:
    async with (
        EventGridReceiver() as receiver,
        publishing(Subscription(receiver.url), max_concurrency=1) as publisher,
    ):
        for i in range(30):
            publisher.publish(worker_event(i))
        events = await receiver.wait_for_events(30, timeout=5)
    assert worker_ids(events) == [f"w{i}" for i in range(30)]


@run_async
async def test_reorder_window_holds_events_for_up_to_the_window() -> None:
    async with (
        EventGridReceiver() as receiver,
        publishing(Subscription(receiver.url), reorder_window=0.2) as publisher,
    ):
        started = time.monotonic()
        publisher.publish(worker_event(1))
        await receiver.wait_for_events(1, timeout=5)
    assert receiver.notifications()[0].arrived_at - started >= 0.19


@run_async
async def test_knobs_can_be_changed_at_runtime() -> None:
    async with (
        EventGridReceiver() as receiver,
        publishing(Subscription(receiver.url), reorder_window=30.0) as publisher,
    ):
        publisher.publish(worker_event(1))
        await asyncio.sleep(0.05)
        assert receiver.notifications() == []
        publisher.set_reorder_window(0)  # releases what is held
        await receiver.wait_for_events(1, timeout=5)
        publisher.set_duplicate_fraction(1.0)
        publisher.publish(worker_event(2))
        assert await publisher.drain(5)
    assert (publisher.reorder_window, publisher.duplicate_fraction) == (0.0, 1.0)
    assert Counter(worker_ids(receiver.events())) == {"w1": 1, "w2": 2}


@pytest.mark.parametrize(
    ("setter", "value"),
    [("set_duplicate_fraction", 1.5), ("set_duplicate_fraction", -0.1), ("set_reorder_window", -1.0)],
    ids=["fraction-above-1", "negative-fraction", "negative-window"],
)
def test_bad_knob_values_are_rejected(setter: str, value: float) -> None:
    publisher = EventPublisher([], topic=TOPIC)
    with pytest.raises(ValueError, match=r"duplicate_fraction|reorder_window"):
        getattr(publisher, setter)(value)


@run_async
async def test_deliveries_run_concurrently_up_to_max_concurrency() -> None:
    async with (
        EventGridReceiver(delay=0.1) as receiver,
        publishing(Subscription(receiver.url), max_concurrency=3) as publisher,
    ):
        for i in range(9):
            publisher.publish(worker_event(i))
        assert await publisher.drain(5)
    assert receiver.max_in_flight == 3


# ------------------------------------------------------------------------------------ lifecycle


@run_async
async def test_drain_reports_pending_retries_and_close_abandons_them() -> None:
    async with EventGridReceiver(default=500) as receiver:
        sub = Subscription(receiver.url, retry_schedule=(60.0,))
        publisher = EventPublisher([sub], topic=TOPIC)
        await publisher.start()
        publisher.publish(worker_event(1))
        assert not await publisher.drain(0.2)
        assert publisher.stats().pending == 1
        await publisher.close()
    assert publisher.stats().abandoned == 1
    assert publisher.deliveries()[0].outcome == DeliveryOutcome.ABANDONED


@run_async
async def test_close_is_clean_and_idempotent() -> None:
    async with EventGridReceiver(default=500, validation="reject") as receiver:
        publisher = EventPublisher([Subscription(receiver.url)], topic=TOPIC, reorder_window=10)
        await publisher.start()
        publisher.publish(worker_event(1))
        await publisher.close()
        await publisher.close()
    others = asyncio.all_tasks() - {asyncio.current_task()}
    assert not [t for t in others if t.get_name().startswith("eventgrid-")]


@run_async
async def test_events_published_before_start_are_delivered_after_start() -> None:
    async with EventGridReceiver() as receiver:
        publisher = EventPublisher([Subscription(receiver.url)], topic=TOPIC)
        publisher.publish(worker_event(1))
        async with publisher:
            await receiver.wait_for_events(1, timeout=5)


@run_async
async def test_events_published_after_close_are_logged_but_not_sent() -> None:
    async with EventGridReceiver() as receiver:
        async with publishing(Subscription(receiver.url)) as publisher:
            pass
        publisher.publish(worker_event(1))
        await asyncio.sleep(0.05)
    assert len(publisher.event_log) == 1
    assert receiver.notifications() == []


@run_async
async def test_publish_from_another_thread_is_refused() -> None:
    async with EventGridReceiver() as receiver, publishing(Subscription(receiver.url)) as publisher:
        errors: list[BaseException] = []

        def publish_elsewhere() -> None:
            try:
                publisher.publish(worker_event(1))
            except RuntimeError as error:
                errors.append(error)

        thread = threading.Thread(target=publish_elsewhere)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert "event loop" in str(errors[0])


@run_async
async def test_failed_attempts_are_counted_per_subscription() -> None:
    async with EventGridReceiver(answers=[500, 503]) as flaky, EventGridReceiver() as healthy:
        subs = (
            Subscription(flaky.url, name="offers", **FAST),
            Subscription(healthy.url, name="agents", **FAST),
        )
        async with publishing(*subs) as publisher:
            publisher.publish(worker_event(1))
            assert await publisher.drain(5)
    stats = publisher.stats()
    assert stats.failures_by_subscription == {"OFFERS": 2}
    assert stats.as_dict()["failuresBySubscription"] == {"OFFERS": 2}


@run_async
async def test_stats_reconcile_every_delivery(tmp_path: Path) -> None:
    async with EventGridReceiver(answers=[500, 400]) as ok, EventGridReceiver(default=500) as broken:
        subs = (
            Subscription(ok.url, name="ok", **FAST),
            Subscription(
                broken.url, name="broken", max_delivery_attempts=2, dead_letter_path=tmp_path / "d", **FAST
            ),
        )
        async with publishing(*subs) as publisher:
            for i in range(5):
                publisher.publish(worker_event(i))
            assert await publisher.drain(5)
    stats = publisher.stats()
    assert stats.published == 5
    assert stats.deliveries == 10
    assert stats.deliveries == stats.successes + stats.dead_lettered + stats.dropped + stats.abandoned
    assert stats.attempts == stats.successes + stats.failures
    assert stats.dead_lettered == 5  # everything to the broken webhook
    assert stats.dropped == 1  # answered 400 by the good one, which has no dead-letter file
    assert stats.as_dict()["deadLettered"] == 5
    per_event = publisher.deliveries(publisher.event_log[0].id)
    assert {r.subscription for r in per_event} == {"OK", "BROKEN"}
