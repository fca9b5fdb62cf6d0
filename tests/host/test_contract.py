"""contract.decide: the webhook decision as a pure function (the HTTP tests cover it end to end)."""

from __future__ import annotations

import json

import pytest

from devstack.functions_host import contract
from devstack.functions_host.contract import (
    BadRequest,
    BodyError,
    Decision,
    FunctionNotFound,
    Notification,
    Unsubscribe,
    Validation,
)

SERVED = ("on_event", "OnCloudEvent")
EVENT = {"id": "e1", "data": {}}


@pytest.mark.parametrize(
    ("name", "event_type", "body", "expected"),
    [
        (None, "Notification", b"[]", FunctionNotFound("")),
        ("", "Notification", b"[]", FunctionNotFound("")),
        ("on_Event", "Notification", b"[]", FunctionNotFound("on_Event")),
        ("nope", None, b"", FunctionNotFound("nope")),
        ("on_event", None, b"", BadRequest("on_event", None)),
        ("on_event", "Notify", b"[]", BadRequest("on_event", "Notify")),
        ("on_event", "unsubscribe", b"", Unsubscribe("on_event")),
        (
            "on_event",
            "Notification",
            json.dumps([EVENT, EVENT]).encode(),
            Notification("on_event", (EVENT, EVENT)),
        ),
        ("on_event", "Notification", json.dumps(EVENT).encode(), Notification("on_event", (EVENT,))),
        ("on_event", "Notification", b"\xef\xbb\xbf[]", Notification("on_event", ())),
        (
            "OnCloudEvent",
            "subscriptionvalidation",
            json.dumps([{"data": {"validationCode": "c1"}}]).encode(),
            Validation("OnCloudEvent", "c1"),
        ),
        (
            "on_event",
            "SubscriptionValidation",
            json.dumps({"specversion": "1.0", "data": json.dumps({"validationCode": "c2"})}).encode(),
            Validation("on_event", "c2"),
        ),
        (
            "on_event",
            "SubscriptionValidation",
            json.dumps([{"data": {"validationCode": 123}}]).encode(),
            Validation("on_event", "123"),
        ),
    ],
    ids=[
        "no-name",
        "empty-name",
        "wrong-case-name",
        "unknown-name-before-header",
        "missing-header",
        "unknown-header",
        "unsubscribe-any-case",
        "array",
        "single-object",
        "utf8-bom",
        "validation-event-grid",
        "validation-cloud-event-double-encoded",
        "validation-numeric-code",
    ],
)
def test_decide(name: str | None, event_type: str | None, body: bytes, expected: Decision) -> None:
    assert contract.decide(name, SERVED, event_type, body) == expected


@pytest.mark.parametrize(
    ("event_type", "body", "message"),
    [
        ("Notification", b"{", "notification body is not JSON"),
        ("Notification", b'"text"', "should be a JSON object or array, but was str"),
        ("Notification", b"\xff", "notification body is not JSON"),
        ("SubscriptionValidation", b"7", "must be a JSON object or array"),
        ("SubscriptionValidation", b"[]", "must be a JSON object or array"),
        ("SubscriptionValidation", b'{"data": "not json"}', "has no data.validationCode"),
    ],
    ids=[
        "truncated",
        "json-string",
        "not-utf8",
        "validation-scalar",
        "validation-empty-array",
        "validation-bad-data",
    ],
)
def test_a_body_that_cannot_be_read_is_a_body_error(event_type: str, body: bytes, message: str) -> None:
    decision = contract.decide("on_event", SERVED, event_type, body)

    assert isinstance(decision, BodyError)
    assert message in decision.message
