"""The Functions host's Event Grid webhook as the product app is served: contract and malformed events."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from tests.e2e.support import LiveStack

_TOPIC = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Communication/communicationServices/acs"


def _post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 - a loopback URL built by the test
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _offer_event(**data_changes: Any) -> dict[str, Any]:
    data = {
        "workerId": f"ghost-{uuid.uuid4().hex[:8]}",
        "jobId": "job-ghost",
        "channelReference": "chat-1",
        "channelId": "chat",
        "queueId": "support-en",
        "offerId": str(uuid.uuid4()),
        "offeredOn": "2030-01-01T10:00:00.0000000Z",
        "expiresOn": "2030-01-01T10:01:00.0000000Z",
        "jobPriority": 1,
        "jobLabels": {"vip": False},
        "jobTags": {},
        "workerLabels": {"kind": "bot", "level": 1},
        "workerTags": {},
    }
    data.update(data_changes)
    return {
        "id": str(uuid.uuid4()),
        "topic": _TOPIC,
        "subject": f"worker/{data['workerId']}/job/job-ghost",
        "eventType": "Microsoft.Communication.RouterWorkerOfferIssued",
        "eventTime": "2030-01-01T10:00:00.0000000Z",
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "data": {k: v for k, v in data.items() if v is not None},
    }


def _webhook(stack: LiveStack, function_name: str = "on_offer_issued") -> str:
    return f"{stack.host.url}/runtime/webhooks/eventgrid?functionName={function_name}"


@pytest.mark.parametrize(
    ("function_name", "header", "status"),
    [
        ("no_such_function", "Notification", 404),
        ("On_Offer_Issued", "Notification", 404),
        ("on_offer_issued", None, 400),
        ("on_offer_issued", "Gossip", 400),
    ],
    ids=["unknown-function-404", "name-is-case-sensitive-404", "missing-header-400", "unknown-header-400"],
)
def test_the_webhook_refuses_what_the_host_refuses(
    eg_stack: LiveStack, function_name: str, header: str | None, status: int
) -> None:
    headers = {} if header is None else {"aeg-event-type": header}

    answer, text = _post(_webhook(eg_stack, function_name), [_offer_event()], headers)

    assert answer == status
    if status == 404:
        assert text == f"cannot find function: '{function_name}'"
    assert eg_stack.host.invocations_ok + eg_stack.host.invocations_failed == 0


@pytest.mark.parametrize(
    "body",
    [
        [{"id": "v1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "subject": "",
          "eventTime": "2030-01-01T00:00:00Z", "dataVersion": "2", "metadataVersion": "1",
          "data": {"validationCode": "code-123"}}],
        {"specversion": "1.0", "id": "v2", "source": "/s",
         "type": "Microsoft.EventGrid.SubscriptionValidationEvent",
         "time": "2030-01-01T00:00:00Z", "data": {"validationCode": "code-123"}},
    ],
    ids=["eventgrid-schema", "cloudevents-schema"],
)  # fmt: skip
def test_the_webhook_answers_the_validation_handshake(eg_stack: LiveStack, body: Any) -> None:
    status, text = _post(_webhook(eg_stack), body, {"aeg-event-type": "SubscriptionValidation"})

    assert status == 200
    assert json.loads(text) == {"validationResponse": "code-123"}


def test_a_malformed_event_is_acknowledged_with_a_clear_log_line_and_no_sdk_call(
    eg_stack: LiveStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devstack.jobrouter.requests")
    event = _offer_event(offerId=None)
    worker_id = event["data"]["workerId"]

    status, _ = _post(_webhook(eg_stack), [event], {"aeg-event-type": "Notification"})

    assert status == 202
    (line,) = [d for d in eg_stack.decisions() if d.fields.get("event_id") == event["id"]]
    assert (line.outcome, line.fields.get("field")) == ("invalid", "data.offerId")
    complaints = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("offer_handlers") and r.levelno >= logging.ERROR
    ]
    assert any("malformed" in m and event["id"] in m and "offerId" in m for m in complaints)
    emulator_calls = [r.getMessage() for r in caplog.records if r.name == "devstack.jobrouter.requests"]
    assert not [m for m in emulator_calls if worker_id in m or "/offers/" in m]
    assert eg_stack.host.invocations_failed == 0
