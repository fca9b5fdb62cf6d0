"""Spec for the reusable loopback webhook in devstack/eventgrid_receiver.py (mostly the thread one)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from devstack.eventgrid_receiver import Answer, EventGridReceiverThread, ReceivedRequest


def post(url: str, body: Any, event_type: str = "Notification") -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback test URL
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "aeg-event-type": event_type, "aeg-delivery-count": "0"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback test URL
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def eg_event(
    event_id: str, event_type: str = "Microsoft.Communication.RouterJobQueued", time: str = ""
) -> Any:
    return {
        "id": event_id,
        "eventType": event_type,
        "eventTime": time or "2024-01-01T00:00:00.0000000Z",
        "data": {},
    }


def test_thread_receiver_answers_the_handshake_with_the_code() -> None:
    with EventGridReceiverThread() as receiver:
        status, body = post(
            receiver.url,
            [{"id": "v", "data": {"validationCode": "ABC"}}],
            event_type="SubscriptionValidation",
        )
        assert (status, json.loads(body)) == (200, {"validationResponse": "ABC"})
        assert len(receiver.validations()) == 1


@pytest.mark.parametrize(
    ("mode", "status", "answer"),
    [("reject", 403, None), ("wrong-code", 200, {"validationResponse": "not-ABC"})],
    ids=["reject", "wrong-code"],
)
def test_thread_receiver_can_fail_the_handshake(mode: str, status: int, answer: Any) -> None:
    with EventGridReceiverThread(validation=mode) as receiver:
        got_status, body = post(
            receiver.url,
            [{"id": "v", "data": {"validationCode": "ABC"}}],
            event_type="SubscriptionValidation",
        )
    assert got_status == status
    if answer is not None:
        assert json.loads(body) == answer


def test_scripted_answers_are_used_in_order_then_the_default() -> None:
    with EventGridReceiverThread(answers=[500, Answer(429)], default=202) as receiver:
        statuses = [post(receiver.url, [eg_event(str(i))])[0] for i in range(3)]
        assert statuses == [500, 429, 202]
        assert [r.status for r in receiver.notifications()] == [500, 429, 202]


def test_responder_sees_each_request_first() -> None:
    def fail_job_queued(request: ReceivedRequest) -> int | None:
        return 503 if request.events[0]["eventType"].endswith("RouterJobQueued") else None

    with EventGridReceiverThread(responder=fail_job_queued) as receiver:
        assert post(receiver.url, [eg_event("1")])[0] == 503
        assert post(receiver.url, [eg_event("2", "Microsoft.Communication.RouterJobDeleted")])[0] == 200


def test_requests_record_headers_body_and_arrival() -> None:
    with EventGridReceiverThread() as receiver:
        post(receiver.url + "?functionName=f", [eg_event("1")])
        (request,) = receiver.requests
    assert request.method == "POST"
    assert request.query == {"functionName": "f"}
    assert request.headers["aeg-event-type"] == "Notification"
    assert request.delivery_count == 0
    assert request.events == [eg_event("1")]
    assert request.arrived_at > 0
    assert request.accepted


def test_events_can_be_deduplicated_and_typed_in_event_time_order() -> None:
    with EventGridReceiverThread() as receiver:
        post(
            receiver.url,
            [eg_event("2", "Microsoft.Communication.RouterJobClosed", "2024-01-01T00:00:02.0000000Z")],
        )
        post(
            receiver.url,
            [eg_event("1", "Microsoft.Communication.RouterJobQueued", "2024-01-01T00:00:01.0000000Z")],
        )
        post(
            receiver.url,
            [eg_event("1", "Microsoft.Communication.RouterJobQueued", "2024-01-01T00:00:01.0000000Z")],
        )
        assert len(receiver.events()) == 3
        assert [e["id"] for e in receiver.events(unique=True)] == ["2", "1"]
        assert receiver.event_types() == ["RouterJobQueued", "RouterJobClosed"]
        assert receiver.event_types(by_time=False) == ["RouterJobClosed", "RouterJobQueued"]


def test_wait_for_events_times_out_listing_what_arrived() -> None:
    with EventGridReceiverThread() as receiver:
        post(receiver.url, [eg_event("1")])
        assert len(receiver.wait_for_events(1, timeout=1)) == 1
        with pytest.raises(TimeoutError, match=r"expected 2 events.*RouterJobQueued"):
            receiver.wait_for_events(2, timeout=0.1)


def test_cloudevents_object_body_is_one_event() -> None:
    with EventGridReceiverThread() as receiver:
        post(receiver.url, {"specversion": "1.0", "id": "c1", "type": "T", "data": {}})
        assert [e["id"] for e in receiver.events()] == ["c1"]


def test_stopped_thread_receiver_no_longer_listens() -> None:
    receiver = EventGridReceiverThread()
    receiver.start()
    url = receiver.url
    receiver.stop()
    with pytest.raises(urllib.error.URLError):
        post(url, [eg_event("1")])
