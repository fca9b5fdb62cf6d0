"""on_offer_issued through the real worker library: indexed with its Event Grid trigger, and each
invocation succeeds (acknowledged) or fails (redelivered) exactly as the outcome contract says."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseTimeoutError,
)

from devstack.functions_worker import WorkerApp
from offer_handlers.decision_log import parse_fields
from offer_handlers.handler import DECISION_LOGGER
from tests.fixtures import fresh, load_event, single, with_data
from tests.fixtures.fakes import FakeResponder, http_error
from tests.fixtures.http import ACCESS_KEY
from tests.functional.conftest import FUNCTION, invoke, invoke_together

SCHEMAS = ["offer_issued.eventgrid", "offer_issued.cloudevents"]


def offer_event(schema: str, **data: Any) -> dict[str, Any]:
    """A fresh (unexpired) offer-issued event in the fixture's schema, voice channel, no labels."""
    event = fresh(single(load_event(schema)))
    return with_data(event, **{"channelId": "voice", "jobLabels": {}, **data})


def decision_outcomes(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [parse_fields(r.getMessage()) for r in caplog.records if r.name == DECISION_LOGGER]
    return [str(line.get("outcome")) for line in lines]


@pytest.fixture(autouse=True)
def _capture_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


# --- indexing --------------------------------------------------------------------------------------


def test_the_worker_indexes_on_offer_issued_with_an_event_grid_trigger_binding(worker: WorkerApp) -> None:
    assert FUNCTION in worker.functions
    info = worker.functions[FUNCTION]
    assert info.trigger_type == "eventGridTrigger"
    assert info.trigger_arg_name == "event"
    assert info.is_async is False
    assert info.function_json == {
        "scriptFile": "function_app.py",
        "bindings": [{"direction": "IN", "type": "eventGridTrigger", "name": "event"}],
    }


# --- success: acknowledged ---------------------------------------------------------------------------


@pytest.mark.parametrize("schema", SCHEMAS)
def test_an_offer_the_policy_accepts_is_accepted_and_acknowledged(
    worker: WorkerApp, fake: FakeResponder, schema: str
) -> None:
    event = offer_event(schema)

    result = invoke(worker, event)

    assert result.ok, result.error
    assert [(c.method, c.worker_id, c.offer_id) for c in fake.calls] == [
        ("accept", event["data"]["workerId"], event["data"]["offerId"])
    ]
    assert 0 < fake.calls[0].timeout <= 30


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_vip_offer_is_declined_with_a_retry_time(
    worker: WorkerApp, fake: FakeResponder, schema: str
) -> None:
    result = invoke(worker, offer_event(schema, jobLabels={"vip": True}))

    assert result.ok, result.error
    (call,) = fake.calls
    assert call.method == "decline"
    assert call.retry_at is not None


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_leave_makes_no_call(worker: WorkerApp, fake: FakeResponder, schema: str) -> None:
    result = invoke(worker, offer_event(schema, channelId="chat"))

    assert result.ok, result.error
    assert fake.calls == []


@pytest.mark.parametrize(
    "error",
    [http_error(ResourceNotFoundError, 404), http_error(ResourceExistsError, 409)],
    ids=["404", "409"],
)
@pytest.mark.parametrize("schema", SCHEMAS)
def test_an_offer_no_longer_available_is_acknowledged(
    worker: WorkerApp, fake: FakeResponder, schema: str, error: Exception
) -> None:
    fake.fail_next(error)

    result = invoke(worker, offer_event(schema))

    assert result.ok, result.error
    assert len(fake.calls) == 1


@pytest.mark.parametrize("schema", SCHEMAS)
def test_an_expired_offer_is_acknowledged_without_a_call(
    worker: WorkerApp, fake: FakeResponder, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    stale = with_data(single(load_event(schema)), channelId="voice")  # the fixtures' offers expired in 2024

    result = invoke(worker, stale)

    assert result.ok, result.error
    assert fake.calls == []
    assert decision_outcomes(caplog) == ["expired"]


@pytest.mark.parametrize(
    "changes",
    [{"offerId": ...}, {"expiresOn": "soon"}, {"workerId": 17}, {"jobLabels": ["vip"]}],
    ids=["no-offer-id", "bad-expiry", "numeric-worker-id", "labels-not-a-map"],
)
@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_malformed_offer_is_acknowledged_without_a_call(
    worker: WorkerApp,
    fake: FakeResponder,
    schema: str,
    changes: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = invoke(worker, offer_event(schema, **changes))

    assert result.ok, result.error
    assert fake.calls == []
    assert decision_outcomes(caplog) == ["invalid"]


@pytest.mark.parametrize(
    "fixture", ["offer_revoked.eventgrid", "worker_registered.cloudevents"], ids=["eventgrid", "cloudevents"]
)
def test_other_event_types_are_acknowledged_without_a_call(
    worker: WorkerApp, fake: FakeResponder, fixture: str, caplog: pytest.LogCaptureFixture
) -> None:
    result = invoke(worker, single(load_event(fixture)))

    assert result.ok, result.error
    assert fake.calls == []
    assert decision_outcomes(caplog) == ["ignored"]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_duplicate_delivery_is_acknowledged_without_a_second_call(
    worker: WorkerApp, fake: FakeResponder, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = offer_event(schema)

    first, second = invoke(worker, event), invoke(worker, event)

    assert first.ok
    assert second.ok
    assert len(fake.calls) == 1
    assert decision_outcomes(caplog) == ["accepted", "duplicate"]


def test_concurrent_duplicates_in_one_request_make_one_call(
    worker: WorkerApp, fake: FakeResponder, caplog: pytest.LogCaptureFixture
) -> None:
    event = offer_event("offer_issued.eventgrid")

    results = asyncio.run(invoke_together(worker, event, event, event))

    assert all(r.ok for r in results)
    assert len(fake.calls) == 1
    assert sorted(decision_outcomes(caplog)) == ["accepted", "duplicate", "duplicate"]


# --- failure: Event Grid redelivers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        http_error(HttpResponseError, 429),
        http_error(HttpResponseError, 500),
        http_error(HttpResponseError, 503),
        ServiceResponseTimeoutError("read timed out"),
        ServiceRequestError("connection refused"),
    ],
    ids=["429", "500", "503", "timeout", "connection-error"],
)
@pytest.mark.parametrize("schema", SCHEMAS)
def test_transient_failures_fail_the_invocation_so_event_grid_redelivers(
    worker: WorkerApp, fake: FakeResponder, schema: str, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(error)
    event = offer_event(schema)

    failed = invoke(worker, event)
    redelivered = invoke(worker, event)

    assert not failed.ok
    assert failed.error is not None
    assert "RetryableServiceError" in failed.error
    assert redelivered.ok, redelivered.error
    assert len(fake.calls) == 2
    assert decision_outcomes(caplog) == ["error", "accepted"]


@pytest.mark.parametrize(
    "error",
    [
        http_error(ClientAuthenticationError, 401),
        http_error(HttpResponseError, 403),
        http_error(HttpResponseError, 400),
    ],
    ids=["401", "403", "400"],
)
def test_auth_and_other_4xx_fail_naming_the_setting_never_its_value(
    worker: WorkerApp, fake: FakeResponder, error: Exception
) -> None:
    fake.fail_next(error)

    result = invoke(worker, offer_event("offer_issued.eventgrid"))

    assert not result.ok
    assert result.error is not None
    assert "ConfigurationError" in result.error
    assert "JOBROUTER_CONNECTION_STRING" in result.error
    assert ACCESS_KEY not in result.error


def test_an_invalid_policy_fails_every_offer_naming_the_setting_and_rule(
    worker: WorkerApp, fake: FakeResponder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "OFFER_POLICY", '{"version": 1, "rules": [{"name": "r"}], "default": {"action": "accept"}}'
    )

    result = invoke(worker, offer_event("offer_issued.cloudevents"))

    assert not result.ok
    assert result.error is not None
    assert "OFFER_POLICY: policy rule" in result.error
    assert "missing: the action to take" in result.error
    assert fake.calls == []


def test_every_invocation_writes_exactly_one_decision_line(
    worker: WorkerApp, fake: FakeResponder, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(http_error(HttpResponseError, 503))
    events = [
        offer_event("offer_issued.eventgrid"),  # error (503)
        offer_event("offer_issued.cloudevents", jobLabels={"vip": True}),  # declined
        offer_event("offer_issued.eventgrid", channelId="chat"),  # left
        offer_event("offer_issued.cloudevents", expiresOn="x"),  # invalid
        single(load_event("offer_revoked.eventgrid")),  # ignored
        single(load_event("offer_issued.eventgrid")),  # expired
    ]

    results = [invoke(worker, e) for e in events]

    assert [r.ok for r in results] == [False, True, True, True, True, True]
    assert decision_outcomes(caplog) == ["error", "declined", "left", "invalid", "ignored", "expired"]
