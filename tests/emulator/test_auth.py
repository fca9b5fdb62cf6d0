"""Authentication as the SDK signs (HMAC-SHA256, docs/emulator-support-matrix.md) and the optional bearer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.communication.jobrouter._client import JobRouterClient as GeneratedJobRouterClient
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import BearerTokenCredentialPolicy

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from tests.emulator.helpers import admin_client, response_text, router_client

OTHER_KEY = "b3RoZXIta2V5LW5vdC10aGUtZW11bGF0b3Itb25l"  # base64, but not the emulator's key


class SkewedClock:
    """The emulator's clock, ``offset`` away from real time."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class FakeCredential:
    """A TokenCredential that hands out a fixed token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(datetime.now(UTC).timestamp()) + 3600)


@pytest.fixture
def bearer_emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig(bearer_token="local-entra-token")) as emulator:
        yield emulator


def bearer_client(emu: EmulatorThread, token: str) -> GeneratedJobRouterClient:
    """The generated client with a bearer policy: the route an Entra ID offer handler takes."""
    policy = BearerTokenCredentialPolicy(FakeCredential(token), "https://communication.azure.com//.default")
    return GeneratedJobRouterClient(emu.endpoint, authentication_policy=policy, retry_total=0)


def test_the_right_key_is_accepted(emu: EmulatorThread) -> None:
    with admin_client(emu) as admin:
        assert admin.upsert_distribution_policy("dp", {"offerExpiresAfterSeconds": 10}).id == "dp"


def test_a_wrong_access_key_is_a_client_authentication_error(emu: EmulatorThread) -> None:
    with admin_client(emu, key=OTHER_KEY) as admin, pytest.raises(ClientAuthenticationError) as raised:
        admin.get_distribution_policy("dp")
    assert raised.value.status_code == 401
    assert json.loads(response_text(raised.value))["communicationError"]["code"] == "Unauthorized"
    assert OTHER_KEY not in response_text(raised.value)


def test_an_endpoint_with_a_trailing_slash_still_verifies(emu: EmulatorThread) -> None:
    class Slashed:
        endpoint = emu.endpoint + "/"
        access_key = emu.access_key

    with router_client(Slashed()) as client:
        assert list(client.list_workers()) == []


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(timedelta(minutes=14), True), (timedelta(minutes=16), False), (timedelta(minutes=-16), False)],
    ids=["14-min-skew-ok", "16-min-ahead-rejected", "16-min-behind-rejected"],
)
def test_x_ms_date_must_be_within_15_minutes(offset: timedelta, accepted: bool) -> None:
    with EmulatorThread(clock=SkewedClock(offset)) as emu, router_client(emu) as client:
        if accepted:
            assert list(client.list_workers()) == []
        else:
            with pytest.raises(ClientAuthenticationError) as raised:
                list(client.list_workers())
            assert "15 minutes" in response_text(raised.value)


def _tamper_body(request: PipelineRequest[Any]) -> None:
    http = request.http_request
    http.data = http.data.replace("10", "99")


def _tamper_date(request: PipelineRequest[Any]) -> None:
    request.http_request.headers["x-ms-date"] = "Mon, 01 Jan 2024 00:00:00 GMT"


@pytest.mark.parametrize("tamper", [_tamper_body, _tamper_date], ids=["body-changed", "date-changed"])
def test_a_request_changed_after_signing_is_rejected(emu: EmulatorThread, tamper: Any) -> None:
    with admin_client(emu) as admin, pytest.raises(ClientAuthenticationError):
        # raw_request_hook runs after the SDK's HMAC policy signed the request
        admin.upsert_distribution_policy("dp", {"offerExpiresAfterSeconds": 10}, raw_request_hook=tamper)


def test_a_request_without_authorization_is_rejected(emu: EmulatorThread) -> None:
    with (
        GeneratedJobRouterClient(emu.endpoint, retry_total=0) as unsigned,
        pytest.raises(ClientAuthenticationError),
    ):
        unsigned.get_worker("w")


def test_the_bearer_token_is_accepted_when_enabled(bearer_emu: EmulatorThread) -> None:
    with bearer_client(bearer_emu, "local-entra-token") as client:
        worker = client.upsert_worker("w", {"capacity": 1}, enforce_https=False)
    assert worker.id == "w"


def test_a_wrong_bearer_token_is_rejected(bearer_emu: EmulatorThread) -> None:
    with bearer_client(bearer_emu, "someone-elses-token") as client, pytest.raises(ClientAuthenticationError):
        client.get_worker("w", enforce_https=False)


def test_bearer_tokens_are_rejected_unless_enabled(emu: EmulatorThread) -> None:
    with (
        bearer_client(emu, "local-entra-token") as client,
        pytest.raises(ClientAuthenticationError) as raised,
    ):
        client.get_worker("w", enforce_https=False)
    assert "--bearer-token" in response_text(raised.value)


def test_hmac_still_works_when_a_bearer_token_is_enabled(bearer_emu: EmulatorThread) -> None:
    with router_client(bearer_emu) as client:
        assert list(client.list_jobs()) == []
