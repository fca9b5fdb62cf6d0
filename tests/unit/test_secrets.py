"""Secrets never reach a log line, at any level, azure-core HTTP logging (network trace) included."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from azure.communication.jobrouter import JobRouterClient
from azure.core.credentials import AzureKeyCredential

from offer_handlers.client import build_responder
from offer_handlers.errors import ConfigurationError, RetryableServiceError
from offer_handlers.fleet_keeper import FleetKeeper
from offer_handlers.handler import OfferHandler
from offer_handlers.settings import Settings, load_settings
from offer_handlers.worker_registrar import build_registrar
from tests.fixtures import envelope, load_event, offered_at, single, with_data
from tests.fixtures.http import ACCESS_KEY, TOKEN, Answer, FakeCredential, FakeJobRouter

EG = single(load_event("offer_issued.eventgrid"))
NOW = offered_at(EG) + timedelta(seconds=1)
CONNECTION_STRING = f"endpoint=http://127.0.0.1:8181/;accesskey={ACCESS_KEY}"
SECRETS = (ACCESS_KEY, CONNECTION_STRING, "Signature=", TOKEN)


@pytest.fixture
def debug_everywhere(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's DEBUG lines are captured
    for name in ("azure", "azure.core", "azure.identity", "urllib3", "offer_handlers"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name in ("azure", "azure.core", "azure.identity", "urllib3", "offer_handlers"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def everything_said(caplog: pytest.LogCaptureFixture, errors: list[BaseException]) -> str:
    lines = [record.getMessage() for record in caplog.records]
    lines += ["".join(traceback.format_exception(error)) for error in errors]
    return "\n".join(lines)


def run_offers(
    env: dict[str, str], fake: FakeJobRouter, *, credential: FakeCredential | None = None
) -> list[BaseException]:
    handler = OfferHandler(
        app_root=Path("."),
        settings_loader=lambda root: load_settings(root, env),
        responder_factory=lambda settings: build_responder(
            settings, transport=fake.transport(), credential=credential, logging_enable=True
        ),
        clock=lambda: NOW,
    )
    errors: list[BaseException] = []
    for n in range(4):
        try:
            handler.handle(envelope(with_data(EG, offerId=f"offer-{n}")))
        except (ConfigurationError, RetryableServiceError) as err:
            errors.append(err)
    return errors


def test_key_auth_logs_no_access_key_connection_string_or_signature_at_debug(
    debug_everywhere: pytest.LogCaptureFixture,
) -> None:
    # accepted, then a 401 (configuration error), then 503s (retried, then raised), then accepted
    fake = FakeJobRouter(
        [
            Answer(200, '{"assignmentId":"a","jobId":"j","workerId":"w"}'),
            Answer(401),
            Answer(503),
            Answer(503),
            Answer(503),
        ]
    )

    errors = run_offers({"JOBROUTER_CONNECTION_STRING": CONNECTION_STRING}, fake)

    said = everything_said(debug_everywhere, errors)
    assert len(errors) == 2
    assert "Request headers:" in said  # the network trace really ran...
    assert "'Authorization': 'REDACTED'" in said  # ...and redacted the header
    assert len(fake.requests) == 6
    for secret in SECRETS:
        assert secret not in said


def test_entra_auth_logs_no_bearer_token_at_debug(debug_everywhere: pytest.LogCaptureFixture) -> None:
    fake = FakeJobRouter([Answer(200, '{"assignmentId":"a","jobId":"j","workerId":"w"}'), Answer(403)])

    errors = run_offers({"JOBROUTER_ENDPOINT": "http://127.0.0.1:8181"}, fake, credential=FakeCredential())

    said = everything_said(debug_everywhere, errors)
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"  # it was sent...
    assert "Request headers:" in said
    assert TOKEN not in said  # ...and never logged


def test_a_malformed_connection_string_error_never_contains_the_value(
    debug_everywhere: pytest.LogCaptureFixture,
) -> None:
    bad = f"endpoint=ftp://acs;accesskey={ACCESS_KEY}"

    errors = run_offers({"JOBROUTER_CONNECTION_STRING": bad}, FakeJobRouter())

    said = everything_said(debug_everywhere, errors)
    assert errors
    assert "JOBROUTER_CONNECTION_STRING" in said
    assert ACCESS_KEY not in said
    assert bad not in said


def test_canary_the_stock_network_trace_would_leak_the_signature(
    debug_everywhere: pytest.LogCaptureFixture,
) -> None:
    # Proves the checks above can fail: azure-core's own policy prints the Authorization header.
    fake = FakeJobRouter()
    client = JobRouterClient(
        "http://127.0.0.1:8181",
        AzureKeyCredential(ACCESS_KEY),
        transport=fake.transport(),
        logging_enable=True,
    )

    client.accept_job_offer("w", "o")

    assert "Signature=" in everything_said(debug_everywhere, [])


def test_settings_never_show_the_connection_string() -> None:
    settings = Settings(app_root=Path("."), connection_string=CONNECTION_STRING)

    assert ACCESS_KEY not in repr(settings)
    assert ACCESS_KEY not in str(settings)


def test_the_fleet_logs_no_access_key_or_signature_at_debug(
    debug_everywhere: pytest.LogCaptureFixture,
) -> None:
    # a deregistered bot: read, register (200); then a 401 on the next run's read (configuration error)
    worker = (
        '{"id":"bot-1","etag":"e1","queues":["q"],"capacity":1,"labels":{"Id":"bot-1"},"tags":{},'
        '"channels":[{"channelId":"chat","capacityCostPerJob":1}],"availableForOffers":false}'
    )
    fake = FakeJobRouter([Answer(200, worker), Answer(200, worker), Answer(401)])
    fleet = (
        '{"version":1,"workers":[{"id":"bot-1","queues":["q"],"capacity":1,'
        '"channels":[{"channelId":"chat","capacityCostPerJob":1}]}]}'
    )
    env = {"JOBROUTER_CONNECTION_STRING": CONNECTION_STRING, "FLEET": fleet}
    keeper = FleetKeeper(
        app_root=Path("."),
        settings_loader=lambda root: load_settings(root, env),
        registrar_factory=lambda settings: build_registrar(
            settings, transport=fake.transport(), logging_enable=True
        ),
    )
    errors: list[BaseException] = []
    for _ in range(2):
        try:
            keeper.reconcile()
        except ConfigurationError as err:
            errors.append(err)

    said = everything_said(debug_everywhere, errors)
    assert len(errors) == 1
    assert [r.method for r in fake.requests] == ["GET", "PATCH", "GET"]
    assert "'Authorization': 'REDACTED'" in said
    for secret in SECRETS:
        assert secret not in said
