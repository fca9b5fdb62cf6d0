"""The client factory: key auth keeps http and signs with HMAC; Entra ID sends a bearer token; budgets."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from offer_handlers.client import ENTRA_SCOPE, build_responder, parse_connection_string
from offer_handlers.errors import ConfigurationError
from offer_handlers.settings import Settings
from offer_handlers.worker_registrar import build_registrar
from tests.fixtures import REPO_ROOT
from tests.fixtures.http import (
    ACCESS_KEY,
    TOKEN,
    Answer,
    FakeCredential,
    FakeJobRouter,
    FakeManagedIdentityEndpoint,
    expected_hmac,
)

ROOT = Path(".")
# azure-core's network trace (NetworkTraceLoggingPolicy) logs here, at DEBUG; its HttpLoggingPolicy elsewhere.
NETWORK_TRACE_LOGGER = "azure.core.pipeline.policies._universal"


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


def test_a_connection_string_without_both_parts_shows_the_expected_shape() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_connection_string("endpoint=https://x.communication.azure.com/")

    assert str(caught.value) == (
        "JOBROUTER_CONNECTION_STRING must look like "
        "endpoint=https://<resource>.communication.azure.com/;accesskey=<key>"
    )


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


def test_the_access_check_reads_the_probe_worker_and_takes_a_404_as_success() -> None:
    fake = FakeJobRouter([Answer(404, body='{"error": {"code": "NotFound", "message": "no such worker"}}')])

    build_responder(key_settings(), transport=fake.transport()).check_access(timeout=10)

    (request,) = fake.requests
    assert (request.method, request.url) == (
        "GET",
        "http://127.0.0.1:8181/routing/workers/offer-handler-health-probe-0000?api-version=2023-11-01",
    )
    assert request.headers["Authorization"] == expected_hmac(request, "http://127.0.0.1:8181")


def test_the_access_check_raises_what_job_router_refused() -> None:
    fake = FakeJobRouter([Answer(401)])

    with pytest.raises(HttpResponseError) as caught:
        build_responder(key_settings(), transport=fake.transport()).check_access(timeout=10)

    assert caught.value.status_code == 401


def test_the_access_check_is_bounded_by_the_request_timeout_and_its_budget() -> None:
    fake = FakeJobRouter([Answer(404), Answer(404)])
    responder = build_responder(key_settings(request_timeout=4.0), transport=fake.transport())

    responder.check_access(timeout=30)
    responder.check_access(timeout=1.5)

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


def test_decline_is_bounded_by_the_request_timeout_and_the_time_left_too() -> None:
    fake = FakeJobRouter()
    responder = build_responder(key_settings(request_timeout=4.0), transport=fake.transport())

    responder.decline("w", "o1", retry_at=None, timeout=30)
    responder.decline("w", "o2", retry_at=None, timeout=1.5)

    assert [r.timeout for r in fake.requests] == [(4.0, 4.0), (1.5, 1.5)]


def test_no_call_is_given_more_than_25_seconds_whatever_the_offer_has_left() -> None:
    fake = FakeJobRouter()
    responder = build_responder(key_settings(request_timeout=25.0), transport=fake.transport())

    responder.accept("w", "o", timeout=600)

    assert fake.requests[0].timeout == (25.0, 25.0)


@pytest.mark.parametrize(
    "answer",
    [Answer(503), Answer(500), Answer(429, headers={"Retry-After": "1"})],
    ids=["503", "500", "429-with-retry-after"],
)
def test_a_retried_status_is_retried_up_to_max_retries_even_above_three(answer: Answer) -> None:
    # azure-core caps status retries at 3 unless told otherwise.
    fake = FakeJobRouter([answer] * 7, sleep=False)
    responder = build_responder(key_settings(max_retries=5), transport=fake.transport())

    with pytest.raises(HttpResponseError):
        responder.accept("w", "o", timeout=20)

    assert len(fake.requests) == 6


def test_a_refused_connection_on_a_read_is_retried_up_to_max_retries_even_above_three() -> None:
    # Accept and decline are POSTs, which azure-core never retries after a connection error; reads are.
    fake = FakeJobRouter([Answer(error=requests.ConnectionError("refused"))] * 7, sleep=False)
    registrar = build_registrar(key_settings(max_retries=5), transport=fake.transport())

    with pytest.raises(ServiceRequestError):
        registrar.get("w", timeout=20)

    assert len(fake.requests) == 6


def test_retries_back_off_0_4_then_0_8_seconds_doubling_up_to_1_second() -> None:
    fake = FakeJobRouter([Answer(503)] * 6, sleep=False)
    responder = build_responder(key_settings(max_retries=5), transport=fake.transport())

    with pytest.raises(HttpResponseError):
        responder.accept("w", "o", timeout=20)

    assert len(fake.requests) == 6
    # No wait before the first retry, then the offer-sized schedule (not azure-core's 0.8 s / 120 s).
    assert fake.sleeps == pytest.approx([0.4, 0.8, 1.0, 1.0])


def test_a_retry_after_within_the_time_left_is_waited_for_exactly() -> None:
    fake = FakeJobRouter([Answer(429, headers={"Retry-After": "2"})], sleep=False)
    responder = build_responder(key_settings(), transport=fake.transport())

    responder.accept("w", "o", timeout=10)

    assert fake.sleeps == [2.0]
    assert len(fake.requests) == 2


def test_a_read_that_times_out_is_retried_up_to_max_retries_even_above_three() -> None:
    fake = FakeJobRouter([Answer(error=requests.ReadTimeout("read timed out"))] * 7, sleep=False)
    registrar = build_registrar(key_settings(max_retries=5), transport=fake.transport())

    with pytest.raises(ServiceResponseError):
        registrar.get("w", timeout=20)

    assert len(fake.requests) == 6


def test_max_retries_bounds_the_retries_of_all_kinds_together() -> None:
    timeout = Answer(error=requests.ReadTimeout("read timed out"))
    fake = FakeJobRouter([Answer(503), timeout, Answer(503), timeout, Answer(503), timeout], sleep=False)
    registrar = build_registrar(key_settings(max_retries=2), transport=fake.transport())

    with pytest.raises(HttpResponseError):
        registrar.get("w", timeout=20)

    assert len(fake.requests) == 3


def test_a_backoff_after_a_connection_error_is_cut_to_what_is_left_of_the_call() -> None:
    fake = FakeJobRouter([Answer(error=requests.ConnectionError("refused"))] * 3, sleep=False)
    registrar = build_registrar(key_settings(max_retries=2), transport=fake.transport())

    # The first retry follows at once; the second would back off 0.4 s, but only ~0.3 s remain.
    with pytest.raises(ServiceRequestError):
        registrar.get("w", timeout=0.3)

    assert len(fake.requests) == 3
    assert len(fake.sleeps) == 1
    assert 0.2 < fake.sleeps[0] <= 0.3


def test_the_network_trace_is_off_unless_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("azure", "azure.core"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        build_responder(key_settings(), transport=FakeJobRouter().transport()).accept("w", "o", timeout=5)
    finally:
        for name in ("azure", "azure.core"):
            logging.getLogger(name).setLevel(logging.NOTSET)

    assert not [r for r in caplog.records if r.name == NETWORK_TRACE_LOGGER]


def test_the_network_trace_when_asked_for_shows_headers_with_authorization_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("azure", "azure.core"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    fake = FakeJobRouter()
    try:
        build_responder(key_settings(), transport=fake.transport(), logging_enable=True).accept(
            "w", "o", timeout=5
        )
    finally:
        for name in ("azure", "azure.core"):
            logging.getLogger(name).setLevel(logging.NOTSET)

    said = "\n".join(r.getMessage() for r in caplog.records if r.name == NETWORK_TRACE_LOGGER)
    assert "Request headers:" in said
    assert "'Authorization': 'REDACTED'" in said
    assert "'x-ms-date': " in said  # other headers are shown as they are
    assert fake.requests[0].headers["Authorization"].startswith("HMAC-SHA256 ")  # the wire is untouched


# --- endpoints ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [
        ("acs.communication.azure.com", "https://acs.communication.azure.com"),
        ("https://proxy.example.net/jobrouter/", "https://proxy.example.net/jobrouter"),
        ("http://127.0.0.1:8181/a/b", "http://127.0.0.1:8181/a/b"),
        ("https://h.example/routerX//", "https://h.example/routerX"),
    ],
    ids=[
        "no-scheme-means-https",
        "path-kept-without-trailing-slash",
        "http-with-path",
        "only-slashes-stripped",
    ],
)
def test_an_endpoint_without_a_scheme_is_https_and_a_path_is_kept(endpoint: str, base: str) -> None:
    assert parse_connection_string(f"endpoint={endpoint};accesskey={ACCESS_KEY}") == (base, ACCESS_KEY)


@pytest.mark.parametrize(
    "key", ["YWJj*ZA==", "YWJj ZA==", "YWJjZA"], ids=["star", "inner-space", "missing-padding"]
)
def test_an_access_key_that_is_not_strict_base64_is_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match="not valid base64"):
        parse_connection_string(f"endpoint=https://x.communication.azure.com;accesskey={key}")


def test_an_empty_element_or_a_key_without_a_value_does_not_stop_the_parse() -> None:
    value = f";;endpoint=http://h:1;ignored;accesskey={ACCESS_KEY};"

    assert parse_connection_string(value) == ("http://h:1", ACCESS_KEY)


@pytest.mark.parametrize(
    "endpoint",
    ["ftp://acs.communication.azure.com", "https://", "https://h:port"],
    ids=["ftp", "no-host", "bad-port"],
)
def test_a_bad_endpoint_setting_names_jobrouter_endpoint(endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_responder(Settings(app_root=ROOT, endpoint=endpoint), credential=FakeCredential())

    assert caught.value.setting == "JOBROUTER_ENDPOINT"
    assert "the endpoint in JOBROUTER_ENDPOINT must be an http(s) URL" in str(caught.value)


def test_without_any_auth_setting_the_error_names_both_settings_as_its_setting() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_responder(Settings(app_root=ROOT))

    assert caught.value.setting == "JOBROUTER_CONNECTION_STRING, JOBROUTER_ENDPOINT"


# --- the managed identity, as deployed (no credential injected) ---------------------------------------


@pytest.fixture
def app_service_identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeManagedIdentityEndpoint]:
    """The environment App Service gives a function with a managed identity, its endpoint on loopback."""
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    with FakeManagedIdentityEndpoint() as endpoint:
        monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url)
        monkeypatch.setenv("IDENTITY_HEADER", "identity-header-secret")
        yield endpoint


@pytest.mark.parametrize(
    ("client_id", "expected"),
    [(None, None), ("5b1e2c3d-aaaa-bbbb-cccc-0123456789ab", ["5b1e2c3d-aaaa-bbbb-cccc-0123456789ab"])],
    ids=["system-assigned", "user-assigned-by-azure-client-id"],
)
def test_the_endpoint_alone_gets_its_token_from_the_managed_identity_azure_client_id_names(
    app_service_identity: FakeManagedIdentityEndpoint, client_id: str | None, expected: list[str] | None
) -> None:
    fake = FakeJobRouter()
    settings = Settings(app_root=ROOT, endpoint="http://127.0.0.1:8181", client_id=client_id)

    build_responder(settings, transport=fake.transport()).accept("w1", "o1", timeout=10)

    (query,) = app_service_identity.queries()
    assert query["resource"] == ["https://communication.azure.com/"]
    assert query.get("client_id") == expected
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
