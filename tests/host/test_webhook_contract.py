"""The host stand-in's Event Grid webhook contract, over real loopback HTTP with the sample app.

Reference: docs/functions-host.md (the webhook contract) and the Event Grid extension source it cites.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from .support import Client, barrier_data, cloud_event, eg_event, running_host


def scenario(body: Callable[[Client], Awaitable[None]]) -> None:
    async def run() -> None:
        async with running_host() as client:
            await body(client)

    asyncio.run(run())


# --- Notification ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function_name", "body"),
    [
        ("on_event", [eg_event({"action": "ok"})]),
        ("on_event_async", [eg_event({"action": "ok"})]),
        ("OnCloudEvent", cloud_event({"action": "ok"})),
        ("OnCloudEvent", [cloud_event({"action": "ok"}), cloud_event({"action": "ok"})]),
        ("on_event", []),
    ],
    ids=["event-grid-array", "async-function", "one-cloud-event-object", "cloud-events-array", "empty-array"],
)
def test_notification_answers_202_with_an_empty_body_when_every_invocation_succeeds(
    function_name: str, body: object
) -> None:
    async def body_(client: Client) -> None:
        assert await client.post(function_name, body) == (202, "")
        expected = len(body) if isinstance(body, list) else 1
        assert (client.host.invocations_ok, client.host.invocations_failed) == (expected, 0)

    scenario(body_)


def test_notification_answers_500_with_the_failures_message_when_any_invocation_fails() -> None:
    async def body(client: Client) -> None:
        events = [eg_event({"action": "ok"}), eg_event({"action": "raise", "message": "asked to fail"})]

        status, text = await client.post("on_event", events)

        assert status == 500
        assert text == "Exception while executing function: Functions.on_event. RuntimeError('asked to fail')"
        assert (client.host.invocations_ok, client.host.invocations_failed) == (1, 1)

    scenario(body)


def test_a_worker_only_binding_rule_turns_into_a_500() -> None:
    async def body(client: Client) -> None:
        status, text = await client.post("returns_value", [eg_event({})])

        assert status == 500
        assert "without a $return binding returned a non-None value" in text

    scenario(body)


def test_a_cloud_event_to_a_function_reading_event_grid_fields_is_a_500() -> None:
    async def body(client: Client) -> None:
        status, text = await client.post("on_event", cloud_event({"action": "ok"}))

        assert status == 500
        assert "'CloudEvent' object has no attribute 'event_type'" in text

    scenario(body)


def test_an_array_element_that_is_not_an_object_fails_its_invocation_only() -> None:
    async def body(client: Client) -> None:
        status, text = await client.post("on_event", [eg_event({"action": "ok"}), 42])

        assert status == 500
        assert "expected a JSON object" in text
        assert (client.host.invocations_ok, client.host.invocations_failed) == (1, 1)

    scenario(body)


@pytest.mark.parametrize(
    "function_name", ["on_event", "on_event_async"], ids=["sync-on-threadpool", "async-on-loop"]
)
def test_the_events_of_one_request_run_concurrently(function_name: str) -> None:
    # Each invocation waits (5 s at most) until the other reaches the barrier: run one after the other,
    # the first would time out and the request would fail.
    async def body(client: Client) -> None:
        data = barrier_data(f"concurrent-{function_name}")

        status, text = await client.post(function_name, [eg_event(data), eg_event(data)])

        assert (status, text) == (202, "")

    scenario(body)


def test_the_response_waits_for_every_invocation_and_records_each_one() -> None:
    async def body(client: Client) -> None:
        events = [eg_event({"action": "ok"}, event_id="a"), eg_event({"action": "raise"}, event_id="b")]

        await client.post("on_event", events)

        records = sorted(client.host.records, key=lambda r: r.event_id or "")
        assert [(r.function_name, r.event_id, r.ok) for r in records] == [
            ("on_event", "a", True),
            ("on_event", "b", False),
        ]
        assert records[0].error is None
        assert records[1].error == "RuntimeError('asked to fail')"
        assert all(r.started_at <= r.ended_at and r.duration_ms >= 0 for r in records)

    scenario(body)


@pytest.mark.parametrize("event_type", ["notification", "NOTIFICATION"], ids=["lower", "upper"])
def test_the_event_type_header_value_is_case_insensitive(event_type: str) -> None:
    async def body(client: Client) -> None:
        assert await client.post("on_event", [eg_event({})], event_type=event_type) == (202, "")

    scenario(body)


# --- 404 / 400 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "function_name",
    ["nope", "ON_EVENT", "oncloudevent", "hourly", "Functions.on_event"],
    ids=["unknown", "wrong-case", "wrong-case-renamed", "not-an-event-grid-function", "functions-prefix"],
)
def test_a_name_the_extension_has_no_listener_for_is_404(function_name: str) -> None:
    async def body(client: Client) -> None:
        status, text = await client.post(function_name, [eg_event({})])

        assert (status, text) == (404, f"cannot find function: '{function_name}'")
        assert client.host.invocations_ok + client.host.invocations_failed == 0

    scenario(body)


def test_a_missing_function_name_is_404_even_without_the_header() -> None:
    async def body(client: Client) -> None:
        assert await client.post(None, [eg_event({})], event_type=None) == (404, "cannot find function: ''")

    scenario(body)


@pytest.mark.parametrize("event_type", [None, "Bogus", ""], ids=["missing", "unknown", "empty"])
def test_a_missing_or_unknown_event_type_header_is_400_and_invokes_nothing(event_type: str | None) -> None:
    async def body(client: Client) -> None:
        status, _ = await client.post("on_event", [eg_event({})], event_type=event_type)

        assert status == 400
        assert client.host.invocations_ok + client.host.invocations_failed == 0

    scenario(body)


@pytest.mark.parametrize(
    ("event_type", "raw"),
    [
        ("Notification", b"not json"),
        ("Notification", b"42"),
        ("SubscriptionValidation", b"{not json"),
        ("SubscriptionValidation", b"[{}]"),
    ],
    ids=["notification-not-json", "notification-json-number", "validation-not-json", "validation-no-code"],
)
def test_a_body_the_extension_cannot_read_is_500_with_a_clear_message(event_type: str, raw: bytes) -> None:
    # The real host throws while parsing and its exception middleware answers 500 (empty body).
    async def body(client: Client) -> None:
        status, text = await client.post("on_event", raw, event_type=event_type)

        assert status == 500
        assert text
        assert client.host.invocations_ok + client.host.invocations_failed == 0

    scenario(body)


# --- Handshake and Unsubscribe --------------------------------------------------------------------


@pytest.mark.parametrize(
    "validation_body",
    [
        [
            {
                "id": "v1",
                "topic": "/t",
                "subject": "",
                "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "eventTime": "2026-01-01T00:00:00Z",
                "data": {"validationCode": "CODE-123", "validationUrl": "https://example.invalid/v"},
                "dataVersion": "2",
            }
        ],
        {
            "specversion": "1.0",
            "id": "v2",
            "source": "/t",
            "type": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": json.dumps({"validationCode": "CODE-123"}),
        },
        {
            "specversion": "1.0",
            "id": "v3",
            "source": "/t",
            "type": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": {"validationCode": "CODE-123"},
        },
    ],
    ids=["event-grid-array", "cloud-event-double-encoded-data", "cloud-event-object-data"],
)
def test_subscription_validation_answers_200_with_the_validation_code(validation_body: object) -> None:
    async def body(client: Client) -> None:
        status, text = await client.post("on_event", validation_body, event_type="SubscriptionValidation")

        assert status == 200
        assert json.loads(text) == {"validationResponse": "CODE-123"}
        assert client.host.invocations_ok + client.host.invocations_failed == 0

    scenario(body)


def test_unsubscribe_answers_202_and_invokes_nothing() -> None:
    async def body(client: Client) -> None:
        assert await client.post("on_event", [eg_event({})], event_type="Unsubscribe") == (202, "")
        assert client.host.invocations_ok + client.host.invocations_failed == 0

    scenario(body)


# --- Addresses ---------------------------------------------------------------------------------------


def test_the_webhook_url_matches_the_hosts_local_form() -> None:
    async def body(client: Client) -> None:
        url = client.host.webhook_url("on_event")

        assert url == f"{client.host.url}/runtime/webhooks/eventgrid?functionName=on_event"
        assert client.host.url.startswith("http://127.0.0.1:")
        served = ("on_event", "OnCloudEvent", "on_event_async", "returns_value")
        assert client.host.event_grid_functions == served

    scenario(body)


def test_the_webhook_path_is_matched_case_insensitively_like_the_hosts_routing() -> None:
    async def body(client: Client) -> None:
        url = f"{client.host.url}/runtime/webhooks/EventGrid?functionName=on_event"
        headers = {"aeg-event-type": "Notification"}
        async with client.session.post(url, json=[eg_event({})], headers=headers) as response:
            assert response.status == 202

    scenario(body)


def test_the_host_status_endpoint_says_running() -> None:
    async def body(client: Client) -> None:
        async with client.session.get(f"{client.host.url}/admin/host/status") as response:
            assert response.status == 200
            assert await response.json() == {"state": "Running"}

    scenario(body)


def test_after_stop_the_port_is_closed() -> None:
    async def run() -> str:
        async with running_host() as client:
            return client.host.url

    url = asyncio.run(run())

    async def probe() -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(f"{url}/admin/host/status")

    asyncio.run(probe())
