"""Spec for the publisher's event-log limit: it keeps the most recent events and their delivery records, and
its totals still count everything, so a long run's memory stays flat."""

from __future__ import annotations

import pytest

from devstack.eventgrid_receiver import EventGridReceiver
from devstack.jobrouter import EmulatorConfig, EmulatorThread
from devstack.jobrouter.eventgrid import DEFAULT_EVENT_LOG_LIMIT, EventPublisher, Subscription
from devstack.polling import wait_until
from tests.emulator.eventgrid_helpers import TOPIC, publishing, run_async, worker_event
from tests.emulator.helpers import add_worker, admin_http, router_client


def test_the_default_limit_is_ten_thousand_events() -> None:
    assert DEFAULT_EVENT_LOG_LIMIT == 10_000
    assert EmulatorConfig().event_log_limit == DEFAULT_EVENT_LOG_LIMIT


@pytest.mark.parametrize("limit", [0, -1, 2.5, True], ids=["zero", "negative", "not-an-integer", "bool"])
def test_a_limit_below_one_or_not_an_integer_is_refused(limit: object) -> None:
    with pytest.raises(ValueError, match="event_log_limit"):
        EventPublisher([], topic=TOPIC, event_log_limit=limit)  # type: ignore[arg-type]


@run_async
async def test_the_event_log_keeps_only_the_most_recent_events_up_to_the_limit() -> None:
    async with publishing(event_log_limit=3) as publisher:
        for i in range(5):
            publisher.publish(worker_event(i))
        assert [e.data["workerId"] for e in publisher.event_log] == ["w2", "w3", "w4"]
        assert publisher.stats().published == 5


@run_async
async def test_delivery_records_leave_with_their_event_and_the_totals_still_count_them() -> None:
    async with (
        EventGridReceiver() as receiver,
        publishing(Subscription(receiver.url), event_log_limit=2) as pub,
    ):
        pub.publish(worker_event(0))
        first = pub.event_log[0].id
        for i in range(1, 4):
            pub.publish(worker_event(i))
        assert await pub.drain(5)
    kept = [e.id for e in pub.event_log]
    assert [r.event_id for r in pub.deliveries()] == kept
    assert pub.deliveries(first) == []
    stats = pub.stats()
    assert (stats.published, stats.deliveries, stats.successes, stats.pending) == (4, 4, 4, 0)


@run_async
async def test_a_delivery_in_flight_when_its_event_leaves_the_log_is_still_delivered_and_counted() -> None:
    async with (
        EventGridReceiver(delay=0.2) as receiver,
        publishing(Subscription(receiver.url), event_log_limit=1) as publisher,
    ):
        publisher.publish(worker_event(0))
        publisher.publish(worker_event(1))  # pushes event 0 out while its delivery waits for an answer
        assert await publisher.drain(5)
    assert sorted(e["data"]["workerId"] for e in receiver.events(accepted_only=True)) == ["w0", "w1"]
    stats = publisher.stats()
    assert (stats.deliveries, stats.successes, stats.pending) == (2, 2, 0)
    assert [r.event_id for r in publisher.deliveries()] == [publisher.event_log[0].id]


def test_the_admin_api_shows_the_most_recent_events_and_the_limit() -> None:
    with EmulatorThread(EmulatorConfig(seed=7, event_log_limit=2)) as emu, router_client(emu) as client:
        for worker in ("w1", "w2", "w3", "w4"):
            add_worker(client, worker)
        wait_until(
            lambda: admin_http(emu, "GET", "/admin/publisher")[1]["stats"]["published"] >= 4,
            what="four events published",
        )
        status, events = admin_http(emu, "GET", "/admin/events")
        settings = admin_http(emu, "GET", "/admin/publisher")[1]
    assert status == 200
    assert [e["subject"] for e in events] == ["worker/w3", "worker/w4"]
    assert settings["eventLogLimit"] == 2
    assert settings["stats"]["published"] == 4
