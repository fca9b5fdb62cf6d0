"""The client factory: key auth keeps http and signs with HMAC; Entra ID sends a bearer token; budgets."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ServiceResponseTimeoutError

from offer_handlers.client import ENTRA_SCOPE, build_responder, parse_connection_string
from offer_handlers.errors import ConfigurationError
from offer_handlers.settings import Settings
from tests.fixtures import REPO_ROOT
from tests.fixtures.http import ACCESS_KEY, TOKEN, Answer, FakeCredential, FakeJobRouter, expected_hmac

ROOT = Path(".")


def key_settings(url: str = "http://127.0.0.1:8181/", **changes: object) -> Settings:
    return Settings(app_root=ROOT, connection_string=f"endpoint={url};accesskey={ACCESS_KEY}", **changes)  # type: ignore[arg-type]


# --- key auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [
        ("http://127.0.0.1:8181/", "http://127.0.0.1:8181"),
        ("http://localhost:8181", "http://localhost:8181"),
        ("https://acs-contact.communication.azure.com/", "https://acs-contact.communication.azure.com"),
        ("HTTPS://ACS.Communication.Azure.com", "https://acs.communication.azure.com"),
    ],
    ids=["http-emulator", "http-no-slash", "https-azure", "upper-case-scheme-and-host"],
)
def test_the_connection_string_endpoint_keeps_its_scheme_and_requests_are_hmac_signed(
    endpoint: str, base: str
) -> None:
    fake = FakeJobRouter()

    build_responder(key_settings(endpoint), transport=fake.transport()).accept("w1", "o1", timeout=10)

    (request,) = fake.requests
    assert request.url == f"{base}/routing/workers/w1/offers/o1:accept?api-version=2023-11-01"
    assert request.headers["Authorization"] == expected_hmac(request, base)


def test_decline_with_retry_sends_retry_offer_at_in_the_body() -> None:
    fake = FakeJobRouter()
    responder = build_responder(key_settings(), transport=fake.transport())

    responder.decline("w1", "o1", retry_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), timeout=10)

    (request,) = fake.requests
    assert request.url.endswith("/routing/workers/w1/offers/o1:decline?api-version=2023-11-01")
    assert request.body == b'{"retryOfferAt": "2030-01-02T03:04:05Z"}'
    assert request.headers["Authorization"] == expected_hmac(request, "http://127.0.0.1:8181")


def test_decline_for_good_sends_no_retry_offer_at() -> None:
    fake = FakeJobRouter()

    build_responder(key_settings(), transport=fake.transport()).decline("w1", "o1", retry_at=None, timeout=10)

    assert fake.requests[0].body == b"{}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"accesskey={ACCESS_KEY}", "must look like endpoint="),
        ("endpoint=https://x.communication.azure.com/", "must look like endpoint="),
        ("endpoint=https://x.communication.azure.com/;accesskey=not*base64!", "not valid base64"),
        (f"endpoint=ftp://x;accesskey={ACCESS_KEY}", "must be an http(s) URL"),
        (f"endpoint=http://;accesskey={ACCESS_KEY}", "must be an http(s) URL"),
        (f"endpoint=http://h:notaport;accesskey={ACCESS_KEY}", "must be an http(s) URL"),
    ],
    ids=["no-endpoint", "no-key", "key-not-base64", "ftp", "no-host", "bad-port"],
)
def test_a_bad_connection_string_names_the_setting_but_never_its_value(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_connection_string(value)

    assert message in str(caught.value)
    assert "JOBROUTER_CONNECTION_STRING" in str(caught.value)
    assert caught.value.setting == "JOBROUTER_CONNECTION_STRING"
    for secret in (value, ACCESS_KEY, "not*base64!"):
        assert secret not in str(caught.value)


def test_connection_string_keys_are_case_insensitive_and_the_key_keeps_its_padding() -> None:
    assert parse_connection_string(" Endpoint = http://h:1/ ; AccessKey=YWJjZA==") == (
        "http://h:1",
        "YWJjZA==",
    )


def test_neither_setting_is_a_configuration_error_naming_both() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_responder(Settings(app_root=ROOT))

    assert "JOBROUTER_CONNECTION_STRING" in str(caught.value)
    assert "JOBROUTER_ENDPOINT" in str(caught.value)


def test_the_connection_string_wins_when_both_are_set() -> None:
    fake = FakeJobRouter()
    settings = key_settings("http://127.0.0.1:8181", endpoint="https://other.communication.azure.com")

    build_responder(settings, transport=fake.transport(), credential=FakeCredential()).accept(
        "w", "o", timeout=5
    )

    assert fake.requests[0].url.startswith("http://127.0.0.1:8181/")
    assert fake.requests[0].headers["Authorization"].startswith("HMAC-SHA256 ")


# --- Microsoft Entra ID ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    ["https://acs-contact.communication.azure.com/", "http://127.0.0.1:8181"],
    ids=["https", "http-emulator-bearer-mode"],
)
def test_the_endpoint_alone_sends_a_bearer_token_for_the_communication_scope(endpoint: str) -> None:
    fake, credential = FakeJobRouter(), FakeCredential()
    settings = Settings(app_root=ROOT, endpoint=endpoint)

    build_responder(settings, transport=fake.transport(), credential=credential).accept(
        "w1", "o1", timeout=10
    )

    (request,) = fake.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert credential.scopes == [("https://communication.azure.com//.default",)]
    assert ENTRA_SCOPE == "https://communication.azure.com//.default"
    assert request.url == f"{endpoint.rstrip('/')}/routing/workers/w1/offers/o1:accept?api-version=2023-11-01"


def test_the_bearer_path_declines_with_options_too() -> None:
    fake = FakeJobRouter()
    settings = Settings(app_root=ROOT, endpoint="https://acs.communication.azure.com")
    responder = build_responder(settings, transport=fake.transport(), credential=FakeCredential())

    responder.decline("w1", "o1", retry_at=datetime(2030, 1, 1, tzinfo=UTC), timeout=10)

    assert fake.requests[0].body == b'{"retryOfferAt": "2030-01-01T00:00:00Z"}'


def _imports_after(code: str) -> str:
    result = subprocess.run(  # noqa: S603 - a fixed interpreter and code: checks what an import pulls in
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_key_auth_never_imports_azure_identity() -> None:
    code = (
        "import sys, function_app\n"
        "from pathlib import Path\n"
        "from offer_handlers.client import build_responder\n"
        "from offer_handlers.settings import Settings\n"
        f"build_responder(Settings(app_root=Path('.'), connection_string='endpoint=http://h:1;accesskey={ACCESS_KEY}'))\n"
        "print('azure.identity' in sys.modules)\n"
    )

    assert _imports_after(code) == "False"


def test_the_entra_path_imports_azure_identity_only_when_building_the_client() -> None:
    code = (
        "import sys, function_app\n"
        "from pathlib import Path\n"
        "before = 'azure.identity' in sys.modules\n"
        "from offer_handlers.client import build_responder\n"
        "from offer_handlers.settings import Settings\n"
        "build_responder(Settings(app_root=Path('.'), endpoint='https://acs.communication.azure.com'))\n"
        "print(before, 'azure.identity' in sys.modules)\n"
    )

    assert _imports_after(code) == "False True"


# --- budgets --------------------------------------------------------------------------------------------


def test_each_attempt_is_bounded_by_the_request_timeout_and_the_time_left() -> None:
    fake = FakeJobRouter()
    responder = build_responder(key_settings(request_timeout=4.0), transport=fake.transport())

    responder.accept("w", "o1", timeout=30)
    responder.accept("w", "o2", timeout=1.5)

    assert [r.timeout for r in fake.requests] == [(4.0, 4.0), (1.5, 1.5)]


def test_5xx_is_retried_at_most_max_retries_times() -> None:
    fake = FakeJobRouter([Answer(503), Answer(503), Answer(503), Answer(503)])
    responder = build_responder(key_settings(max_retries=2), transport=fake.transport())

    with pytest.raises(HttpResponseError) as caught:
        responder.accept("w", "o", timeout=20)

    assert caught.value.status_code == 503
    assert len(fake.requests) == 3


def test_a_retry_after_longer_than_the_time_left_is_not_waited_for() -> None:
    fake = FakeJobRouter([Answer(429, headers={"Retry-After": "60"})])
    responder = build_responder(key_settings(max_retries=5), transport=fake.transport())
    started = time.monotonic()

    with pytest.raises(HttpResponseError) as caught:
        responder.accept("w", "o", timeout=2)

    assert caught.value.status_code == 429
    assert len(fake.requests) == 1
    assert time.monotonic() - started < 1.0


def test_a_short_retry_after_within_the_time_left_is_honoured() -> None:
    fake = FakeJobRouter([Answer(429, headers={"Retry-After": "0.1"})])
    responder = build_responder(key_settings(), transport=fake.transport())

    responder.accept("w", "o", timeout=5)

    assert len(fake.requests) == 2


def test_backoff_never_runs_past_the_offer_expiry() -> None:
    fake = FakeJobRouter([Answer(503)] * 10)
    responder = build_responder(key_settings(max_retries=5), transport=fake.transport())
    started = time.monotonic()

    with pytest.raises((HttpResponseError, ServiceResponseTimeoutError)):
        responder.accept("w", "o", timeout=0.5)

    # Unbounded, five retries would back off 0 + 0.4 + 0.8 + 1 + 1 s.
    assert time.monotonic() - started < 0.9
    assert len(fake.requests) < 6
